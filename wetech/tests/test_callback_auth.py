"""The AzamPay callback's guards: secrets (rotation list, minimum length) and allowed networks."""

import ipaddress

import pytest

from wetech.callback_auth import (
    azampay_address_allowed,
    azampay_callback_url,
    azampay_secret_accepted,
    parse_callback_secrets,
    parse_networks,
    plain_ip,
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


def test_networks_parse_and_invalid_ones_are_named():
    assert parse_networks(["10.0.0.0/8", " 2001:db8::/32 ", "", "196.46.10.7"]) == [
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("2001:db8::/32"),
        ipaddress.ip_network("196.46.10.7/32"),
    ]
    for bad in ("10.0.0.1/8", "azampay.co.tz", "10.0.0.0/33"):
        with pytest.raises(ValueError) as caught:
            parse_networks(["10.0.0.0/8", bad])
        assert str(caught.value).startswith(
            f"AZAMPAY_CALLBACK_ALLOWED_NETWORKS holds {bad!r}, which is not a valid network"
        )


@pytest.mark.parametrize(
    ("ip", "allowed"),
    [
        ("196.46.10.7", True),
        ("::ffff:196.46.10.7", True),
        ("2001:db8:aa::1", True),
        ("196.46.11.7", False),
        ("::ffff:196.46.11.7", False),
        ("2001:db8:ab::1", False),
        ("", False),
        ("not-an-ip", False),
    ],
)
def test_addresses_are_matched_against_the_allowed_networks(settings, ip, allowed):
    settings.AZAMPAY_CALLBACK_ALLOWED_NETWORKS = parse_networks(
        ["196.46.10.0/24", "2001:db8:aa::/48"]
    )

    assert azampay_address_allowed(ip) is allowed


def test_no_networks_allow_any_address(settings):
    settings.AZAMPAY_CALLBACK_ALLOWED_NETWORKS = []

    assert azampay_address_allowed("203.0.113.9")


def test_networks_given_as_text_in_an_override_work_too(settings):
    settings.AZAMPAY_CALLBACK_ALLOWED_NETWORKS = ["196.46.10.0/24"]

    assert azampay_address_allowed("196.46.10.7")
    assert not azampay_address_allowed("203.0.113.9")


def test_plain_ip_shows_a_mapped_address_as_its_ipv4():
    assert plain_ip("::ffff:cb00:7109") == "203.0.113.9"
    assert plain_ip("2001:db8::1") == "2001:db8::1"
    assert plain_ip("") == ""
