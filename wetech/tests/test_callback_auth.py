"""The AzamPay callback's secrets: a rotation list, each at least 32 characters."""

import pytest

from wetech.callback_auth import (
    azampay_callback_url,
    azampay_secret_accepted,
    parse_callback_secrets,
)

FIRST = "first-callback-secret-0123456789abcdefghij"
SECOND = "second-callback-secret-0123456789abcdefghij"


def test_a_rotation_list_registers_the_first_and_accepts_every_one(settings):
    settings.SITE_URL = "https://wetech.co.tz"
    settings.AZAMPAY_CALLBACK_SECRET = f" {FIRST} , {SECOND} ,"

    assert parse_callback_secrets(settings.AZAMPAY_CALLBACK_SECRET) == [FIRST, SECOND]
    assert azampay_callback_url() == f"https://wetech.co.tz/payments/azampay/callback/{FIRST}/"
    assert azampay_secret_accepted(FIRST)
    assert azampay_secret_accepted(SECOND)
    assert not azampay_secret_accepted(f"{FIRST},{SECOND}")
    assert not azampay_secret_accepted(FIRST[:-1])
    assert not azampay_secret_accepted("")


def test_no_secret_accepts_nothing(settings):
    settings.AZAMPAY_CALLBACK_SECRET = ""

    assert parse_callback_secrets("") == []
    assert not azampay_secret_accepted("")
    assert not azampay_secret_accepted(FIRST)


@pytest.mark.parametrize("value", ["x" * 31, f"{FIRST},short", f"{'y' * 31},{SECOND}"])
def test_a_secret_shorter_than_32_characters_is_refused_without_being_quoted(value):
    with pytest.raises(ValueError, match="at least 32 characters") as caught:
        parse_callback_secrets(value)

    for secret in value.split(","):
        assert secret not in str(caught.value)


def test_exactly_32_characters_is_enough():
    assert parse_callback_secrets("z" * 32) == ["z" * 32]
