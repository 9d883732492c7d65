"""The worker's health address setting: [HOST:]PORT[-PORT], refused with the reason otherwise."""

import re

import pytest

from workers.__main__ import parse_health_address


@pytest.mark.parametrize(
    ("setting", "host", "ports"),
    [
        ("9100", "127.0.0.1", range(9100, 9101)),
        (":9100", "127.0.0.1", range(9100, 9101)),
        ("0.0.0.0:9100", "0.0.0.0", range(9100, 9101)),
        ("[::1]:9100-9103", "::1", range(9100, 9104)),
        (" 10.1.2.3:9100-9109 ", "10.1.2.3", range(9100, 9110)),
    ],
)
def test_health_addresses(setting, host, ports):
    assert parse_health_address(setting) == (host, ports)


@pytest.mark.parametrize(
    ("setting", "reason"),
    [
        ("localhost:http", "expected [HOST:]PORT"),
        ("localhost:", "expected [HOST:]PORT"),
        ("127.0.0.1:9100-", "expected [HOST:]PORT"),
        ("127.0.0.1:9-8", "ports must be 1-65535, low to high"),
        ("127.0.0.1:0", "ports must be 1-65535"),
        ("127.0.0.1:70000", "ports must be 1-65535"),
        ("127.0.0.1:-5", "expected [HOST:]PORT"),
    ],
)
def test_malformed_health_addresses_are_refused(setting, reason):
    with pytest.raises(SystemExit, match=re.escape(reason)):
        parse_health_address(setting)
