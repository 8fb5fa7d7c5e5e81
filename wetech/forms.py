"""Forms: validation and cleaning only (no saving, no side effects)."""

import ipaddress
import re
import time
from urllib.parse import urlsplit

import phonenumbers
from django import forms
from django.conf import settings
from django.core import signing
from django.utils.translation import gettext_lazy as _

from wetech.models import PaymentAttempt, Service
from wetech.payments.gateways.azampay import normalize_msisdn
from wetech.sanitize import plain_text, single_line
from wetech.tin import tin_normalize

LEAD_FORM_SALT = "wetech.forms.LeadForm.rendered_at"

SPAM_MESSAGE = _("This form looks automated, so we did not send it.")
TOO_FAST_MESSAGE = _(
    "That was quicker than a person can fill in the form. Wait a few seconds and send it again."
)
INVALID_TIN_MESSAGE = _("A TIN has 9 digits, e.g. 123-456-789. Check it, or leave the field empty.")
EXPIRED_MESSAGE = _("This form has expired. Reload the page and send it again.")
TAMPERED_MESSAGE = _("This form could not be checked. Reload the page and send it again.")
# Django's own wording, in our catalogue so both languages say it our way.
TOO_LONG_MESSAGE = _("Please keep this under %(limit_value)d characters.")
TOO_LONG = {"max_length": TOO_LONG_MESSAGE}


def lead_form_token() -> str:
    """A signed note of when the form was rendered; `LeadForm` checks its age on submit."""
    return signing.dumps(time.time(), salt=LEAD_FORM_SALT, compress=False)


def phone_to_e164(raw: str) -> str:
    """A Tanzanian (default) or international number in E.164, or ValidationError."""
    try:
        number = phonenumbers.parse(raw, "TZ")
    except phonenumbers.NumberParseException as exc:
        raise forms.ValidationError(
            _("Enter a phone number like 0712 345 678 or +255 712 345 678."), code="invalid_phone"
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise forms.ValidationError(
            _("That phone number does not exist. Check the digits, e.g. 0712 345 678."),
            code="invalid_phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_HOSTNAME = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?"
)


def well_formed_url(value: str, *, path_ok: bool = False) -> bool:
    """An absolute http(s) URL whose host is a domain name or an IP address (or, with `path_ok`,
    a path on this site). `http://[::1`, `http://%zz`, `http://a:port` and `javascript:` are not."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (a port that is not a number in range raises ValueError)
    except ValueError:
        return False
    if not parts.scheme and not parts.netloc:
        return path_ok and value.startswith("/")
    host = parts.hostname or ""
    if parts.scheme.lower() not in ("http", "https") or not host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOSTNAME.fullmatch(host))
    return True


class LeadForm(forms.Form):
    """The lead form of the contract ("Lead form fields"), plus the signed render-time token."""

    name = forms.CharField(
        max_length=120,
        label=_("Your name"),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
        error_messages={"required": _("Please tell us your name."), **TOO_LONG},
    )
    email = forms.EmailField(
        max_length=254,
        label=_("Email"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={
            "required": _("Please enter your email address."),
            "invalid": _("Enter a valid email address, e.g. asha@example.co.tz."),
            **TOO_LONG,
        },
    )
    phone = forms.CharField(
        max_length=32,
        label=_("Phone"),
        error_messages={"required": _("Please enter your phone number."), **TOO_LONG},
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        help_text=_("A Tanzanian number (0712 345 678) or an international one with its +code."),
    )
    company = forms.CharField(
        max_length=120,
        required=False,
        label=_("Company (optional)"),
        error_messages=TOO_LONG,
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    tin = forms.CharField(
        # Room for the 9 digits grouped with dashes or spaces; the rule is in `clean_tin`.
        max_length=20,
        required=False,
        label=_("TIN (optional)"),
        help_text=_(
            "Your Taxpayer Identification Number, 9 digits (e.g. 123-456-789), "
            "if it should be on your tax invoice."
        ),
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    service = forms.ModelChoiceField(
        queryset=Service.objects.active(),
        to_field_name="slug",
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": _("That service is not offered any more.")},
    )
    message = forms.CharField(
        max_length=5000,
        required=False,
        label=_("Message"),
        error_messages=TOO_LONG,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    marketing_consent = forms.BooleanField(
        required=False, label=_("Send me occasional news and offers from WeTech.")
    )
    website = forms.CharField(required=False, strip=False)
    form_token = forms.CharField(required=False)
    utm_source = forms.CharField(max_length=200, required=False, widget=forms.HiddenInput)
    utm_medium = forms.CharField(max_length=200, required=False, widget=forms.HiddenInput)
    utm_campaign = forms.CharField(max_length=200, required=False, widget=forms.HiddenInput)
    utm_term = forms.CharField(max_length=200, required=False, widget=forms.HiddenInput)
    utm_content = forms.CharField(max_length=200, required=False, widget=forms.HiddenInput)
    landing_page = forms.CharField(max_length=500, required=False, widget=forms.HiddenInput)
    referrer = forms.CharField(max_length=500, required=False, widget=forms.HiddenInput)

    SPAM_FIELDS = ("website", "form_token")
    HIDDEN_FIELDS = (
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "landing_page",
        "referrer",
    )

    def _required_text(self, field, message):
        value = single_line(self.cleaned_data.get(field, ""))
        if not value:
            raise forms.ValidationError(message, code="required")
        return value

    def clean_name(self):
        return self._required_text("name", _("Please tell us your name."))

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean_phone(self):
        return phone_to_e164(self.cleaned_data["phone"])

    def clean_company(self):
        return single_line(self.cleaned_data["company"])

    def clean_tin(self):
        """The 9 digits, however they were grouped ("" when none was given)."""
        raw = self.cleaned_data["tin"]
        if not raw:
            return ""
        try:
            return tin_normalize(raw)
        except ValueError as exc:
            raise forms.ValidationError(INVALID_TIN_MESSAGE, code="invalid_tin") from exc

    def clean_message(self):
        return plain_text(self.cleaned_data["message"])

    def clean_website(self):
        if self.cleaned_data["website"]:
            raise forms.ValidationError(SPAM_MESSAGE, code="spam")
        return ""

    def clean_form_token(self):
        token = self.cleaned_data["form_token"]
        try:
            rendered_at = signing.loads(
                token, salt=LEAD_FORM_SALT, max_age=settings.LEAD_FORM_MAX_AGE_SECONDS
            )
        except signing.SignatureExpired as exc:
            raise forms.ValidationError(EXPIRED_MESSAGE, code="expired") from exc
        except signing.BadSignature as exc:
            raise forms.ValidationError(TAMPERED_MESSAGE, code="tampered") from exc
        if not isinstance(rendered_at, int | float) or isinstance(rendered_at, bool):
            raise forms.ValidationError(TAMPERED_MESSAGE, code="tampered")
        if time.time() - rendered_at < settings.LEAD_FORM_MIN_SECONDS:
            raise forms.ValidationError(TOO_FAST_MESSAGE, code="too_fast")
        return token

    def clean(self):
        cleaned = super().clean()
        for field in self.HIDDEN_FIELDS:
            if field in cleaned:
                cleaned[field] = single_line(cleaned[field])
        # Where the visitor came from is a note, not something to refuse a lead over: a page or
        # referrer that is not a well-formed URL (a forged Referer header ends up in the hidden
        # field the page renders) is dropped.
        for field, path_ok in (("landing_page", True), ("referrer", False)):
            if cleaned.get(field) and not well_formed_url(cleaned[field], path_ok=path_ok):
                cleaned[field] = ""
        if not cleaned.get("service") and "message" in cleaned and not cleaned["message"]:
            self.add_error("message", _("Tell us briefly what you need."))
        return cleaned

    @property
    def is_spam(self) -> bool:
        """Rejected by the anti-spam checks (as opposed to a person's typing mistake)."""
        return any(field in self.errors for field in self.SPAM_FIELDS)


class AzamPayForm(forms.Form):
    """The mobile-money push: the payer's Tanzanian number and their network."""

    PROVIDER_CHOICES = PaymentAttempt.Provider.choices

    phone = forms.CharField(
        max_length=32,
        label=_("Mobile money number"),
        error_messages={"required": _("Please enter your mobile money number."), **TOO_LONG},
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    provider = forms.ChoiceField(
        choices=PROVIDER_CHOICES,
        label=_("Network"),
        error_messages={
            "required": _("Choose your mobile money network from the list."),
            "invalid_choice": _("Choose your mobile money network from the list."),
        },
    )

    def clean_phone(self):
        e164 = phone_to_e164(self.cleaned_data["phone"])
        try:
            normalize_msisdn(e164)
        except ValueError as exc:
            raise forms.ValidationError(
                _("Enter a Tanzanian mobile money number, e.g. 0712 345 678."),
                code="not_mobile_money",
            ) from exc
        return e164
