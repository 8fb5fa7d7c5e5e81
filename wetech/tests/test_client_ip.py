import pytest
from django.test import RequestFactory, override_settings

from wetech.client_ip import client_ip, client_ip_ratelimit_key


def _request(remote="10.0.0.1", xff=None):
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **extra)


@override_settings(TRUSTED_PROXY_COUNT=0)
def test_without_proxies_the_header_is_ignored():
    assert client_ip(_request("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


@override_settings(TRUSTED_PROXY_COUNT=1)
@pytest.mark.parametrize(
    ("xff", "expected"),
    [
        ("198.51.100.7", "198.51.100.7"),
        # The client wrote "1.2.3.4" itself; our proxy appended what it really saw.
        ("1.2.3.4, 198.51.100.7", "198.51.100.7"),
        ("1.2.3.4, 5.6.7.8, 198.51.100.7", "198.51.100.7"),
        ("", "127.0.0.1"),
        ("not-an-ip", "127.0.0.1"),
    ],
)
def test_one_proxy_reads_the_rightmost_entry(xff, expected):
    assert client_ip(_request("127.0.0.1", xff)) == expected


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_two_proxies_read_the_second_from_the_right():
    assert client_ip(_request("127.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.2")) == "198.51.100.7"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_spoofed_leftmost_entries_share_one_ratelimit_key():
    keys = {
        client_ip_ratelimit_key("g", _request("127.0.0.1", f"9.9.9.{n}, 198.51.100.7"))
        for n in range(5)
    }
    assert keys == {"198.51.100.7"}


@override_settings(TRUSTED_PROXY_COUNT=0)
def test_ipv6_is_limited_per_64():
    one = client_ip_ratelimit_key("g", _request("2001:db8:1:2::1"))
    two = client_ip_ratelimit_key("g", _request("2001:db8:1:2:ffff::9"))
    assert one == two == "2001:db8:1:2::/64"


@pytest.mark.parametrize("proxies", [0, 1])
def test_ipv4_mapped_ipv6_shares_the_ipv4_bucket(settings, proxies):
    settings.TRUSTED_PROXY_COUNT = proxies

    def key(address):
        if proxies:
            return client_ip_ratelimit_key("g", _request("127.0.0.1", f"9.9.9.9, {address}"))
        return client_ip_ratelimit_key("g", _request(address))

    assert key("::ffff:198.51.100.7") == key("198.51.100.7") == "198.51.100.7"
    assert key("::FFFF:c633:6407") == "198.51.100.7"
    # Not widened to the /64 of ::ffff:0:0, which would put every IPv4 client in one bucket.
    assert key("::ffff:198.51.100.8") == "198.51.100.8"


@override_settings(TRUSTED_PROXY_COUNT=0)
def test_client_ip_reports_the_ipv4_address_of_a_mapped_one():
    assert client_ip(_request("::ffff:203.0.113.9")) == "203.0.113.9"
