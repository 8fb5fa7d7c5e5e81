import pytest
from django import forms

from wetech.forms import LeadForm, lead_form_token, phone_to_e164

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0712 345 678", "+255712345678"),
        ("+255 754 123 456", "+255754123456"),
        ("255712345678", "+255712345678"),
        ("+254 712 345678", "+254712345678"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_numbers_become_e164(raw, e164):
    assert phone_to_e164(raw) == e164


@pytest.mark.parametrize("raw", ["12", "abc", "+255 1", "0000000000", "+999 123"])
def test_bad_phone_numbers_are_field_errors(raw):
    with pytest.raises(forms.ValidationError):
        phone_to_e164(raw)


def _data(**overrides):
    return {
        "name": "  Asha   Mwinyi ",
        "email": "  Asha@Example.CO.TZ ",
        "phone": "0712345678",
        "message": "Hello",
        "form_token": lead_form_token(),
        **overrides,
    }


def test_cleaning_normalises_email_name_and_phone():
    form = LeadForm(_data())
    assert form.is_valid(), form.errors
    assert form.cleaned_data["email"] == "asha@example.co.tz"
    assert form.cleaned_data["name"] == "Asha Mwinyi"
    assert form.cleaned_data["phone"] == "+255712345678"
    assert form.cleaned_data["marketing_consent"] is False


def test_a_name_made_only_of_tags_is_missing():
    form = LeadForm(_data(name="<b></b>"))
    assert not form.is_valid()
    assert "name" in form.errors


def test_spam_errors_are_told_apart_from_typos():
    assert LeadForm(_data(website="x")).is_spam
    form = LeadForm(_data(email="nope"))
    assert not form.is_valid() and not form.is_spam


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("", ""), ("   ", ""), ("123-456-789", "123456789"), (" 123 456 789 ", "123456789")],
)
def test_the_tin_is_optional_and_cleaned_to_nine_digits(typed, stored):
    form = LeadForm(_data(tin=typed))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["tin"] == stored


@pytest.mark.parametrize("typed", ["12345678", "123-456-7890", "abc-def-ghi", "<b>123456789</b>"])
def test_a_tin_that_is_not_nine_digits_is_a_clear_field_error(typed):
    form = LeadForm(_data(tin=typed))
    assert not form.is_valid()
    assert not form.is_spam
    assert form.errors["tin"] == [
        "A TIN has 9 digits, e.g. 123-456-789. Check it, or leave the field empty."
    ]
    assert form.errors.as_data()["tin"][0].code == "invalid_tin"
