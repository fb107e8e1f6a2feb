"""Names, record options, server addresses and Route 53 TXT quoting: the pure parts of `migrate domain`."""

from __future__ import annotations

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
from hypothesis import given
from hypothesis import strategies as st

from migrate_cli.core.errors import EXIT_BAD_INPUT, ConfigError
from migrate_cli.dns.names import (
    Expected,
    check_domain,
    expectations_from_mapping,
    expectations_from_options,
    parse_assignment,
    qualify,
    short,
)
from migrate_cli.dns.route53 import name_from_route53, txt_from_route53, txt_to_route53
from migrate_cli.dns.servers import Server, parse_server, parse_server_spec
from migrate_cli.dns.verify import backoff


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("example.com", "example.com."),
        ("Example.COM.", "example.com."),
        ("  lab.migrate.test ", "lab.migrate.test."),
        ("bücher.example", "xn--bcher-kva.example."),
        ("a-b.co.uk", "a-b.co.uk."),
    ],
)
def test_check_domain_accepts_and_normalises(typed: str, expected: str) -> None:
    assert check_domain(typed) == expected


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("", "empty"),
        (".", "empty"),
        ("exa mple.com", "not a valid DNS name"),
        ("example..com", "not a valid DNS name"),
        (".example.com", "not a valid DNS name"),
        ("-bad.example.com", "bad label"),
        ("bad-.example.com", "bad label"),
        ("x" * 64 + ".com", "not a valid DNS name"),
        ("localhost", "single label"),
        ("192.0.2.1", "IP address"),
        ("_acme.example.com", "not a host name"),
        ("*.example.com", "not a host name"),
        ("exa$mple.com", "bad label"),
        ("https://example.com", "not a valid DNS name"),
    ],
)
def test_check_domain_rejects_with_one_clear_line(typed: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why) as err:
        check_domain(typed)
    assert err.value.exit_code == EXIT_BAD_INPUT
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("_acme", "_acme.example.com."),
        ("@", "example.com."),
        ("", "example.com."),
        ("_acme.example.com", "_acme.example.com."),  # already full: never doubled
        ("_ACME.Example.Com", "_acme.example.com."),
        ("_acme.example.com.", "_acme.example.com."),
        ("_x.other.org.", "_x.other.org."),  # absolute, outside the domain
        ("www.example.com.example.com", "www.example.com.example.com."),  # what the user typed, kept
        ("_d930b28be6c5927595552b219965053e.www", "_d930b28be6c5927595552b219965053e.www.example.com."),
    ],
)
def test_qualify(name: str, expected: str) -> None:
    assert qualify(name, "example.com.") == expected


def test_parse_assignment_splits_at_the_first_equals() -> None:
    assert parse_assignment("_amazonses=QTKknzFg2J4yg+XvHAx=", "--txt") == ("_amazonses", "QTKknzFg2J4yg+XvHAx=")
    assert parse_assignment("@=v=spf1 -all", "--txt") == ("@", "v=spf1 -all")
    for bad, why in (("novalue", "expected NAME=VALUE"), ("=x", "expected NAME=VALUE"), ("n=", "empty")):
        with pytest.raises(ConfigError, match=why) as err:
            parse_assignment(bad, "--txt")
        assert str(err.value).startswith("--txt ")


def test_expectations_from_options_and_mapping() -> None:
    records = expectations_from_options(
        "example.com.", ["_v=tok", "_v=tok", "@=v=spf1 -all"], ["_acm=_abc.ACM-Validations.AWS"]
    )
    assert records == [
        Expected("_v.example.com.", "TXT", "tok"),
        Expected("example.com.", "TXT", "v=spf1 -all"),
        Expected("_acm.example.com.", "CNAME", "_abc.acm-validations.aws."),
    ]
    assert expectations_from_mapping("example.com.", {"_v": ["a", "b"], "x": "c"}, "TXT") == [
        Expected("_v.example.com.", "TXT", "a"),
        Expected("_v.example.com.", "TXT", "b"),
        Expected("x.example.com.", "TXT", "c"),
    ]
    with pytest.raises(ConfigError, match="--cname .*CNAME target 'not a name'"):
        expectations_from_options("example.com.", None, ["_acm=not a name"])
    with pytest.raises(ConfigError, match="--txt .*record name"):
        expectations_from_options("example.com.", ["bad name=x"], None)
    with pytest.raises(ConfigError, match="at most 4000"):
        expectations_from_options("example.com.", ["_v=" + "x" * 5000], None)


def test_expected_matching_and_display() -> None:
    cname = Expected("_a.example.com.", "CNAME", "_b.acm-validations.aws.")
    assert cname.matches("_B.ACM-validations.aws") and cname.matches("_b.acm-validations.aws.")
    assert not cname.matches("_c.acm-validations.aws.")
    txt = Expected("_v.example.com.", "TXT", "Token")
    assert txt.matches("Token") and not txt.matches("token") and not txt.matches('"Token"')
    assert txt.describe() == 'TXT _v.example.com "Token"'
    assert short("x" * 100).endswith("…(100 bytes)") and short("abc") == "abc"


@pytest.mark.parametrize(
    ("typed", "host", "port"),
    [
        ("192.0.2.1", "192.0.2.1", 53),
        ("192.0.2.1:5353", "192.0.2.1", 5353),
        ("ns1.example.com", "ns1.example.com", 53),
        ("ns1.example.com:53", "ns1.example.com", 53),
        ("[2001:db8::1]:5300", "2001:db8::1", 5300),
        ("[2001:db8::1]", "2001:db8::1", 53),
        ("2001:db8::1", "2001:db8::1", 53),
    ],
)
def test_parse_server(typed: str, host: str, port: int) -> None:
    assert parse_server(typed) == (host, port)
    assert parse_server_spec(typed) == Server(host, port)


@pytest.mark.parametrize("bad", ["", "host:", "host:0", "host:70000", "host:x", "[::1", "[::1]x", "a b:53", "1:2:zz"])
def test_parse_server_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_server(bad)


def test_server_labels() -> None:
    assert Server("192.0.2.1", 53, "ns1.example.com.").label == "ns1.example.com (192.0.2.1:53)"
    assert Server("2001:db8::1", 5300).label == "[2001:db8::1]:5300"


def test_txt_route53_quoting_splits_at_255_bytes_and_escapes() -> None:
    assert txt_to_route53("abc") == '"abc"'
    assert txt_to_route53('say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'
    assert txt_to_route53("é") == '"\\195\\169"'
    long = "v=DKIM1; p=" + "A" * 400
    quoted = txt_to_route53(long)
    assert quoted.count('" "') == 1
    assert len(quoted.split('" "')[0]) == 256  # the opening quote + 255 bytes
    assert txt_from_route53(quoted) == long
    assert txt_from_route53('"a" "b"') == "ab"


@given(st.text(min_size=0, max_size=700))
def test_txt_route53_round_trip(value: str) -> None:
    quoted = txt_to_route53(value)
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, quoted)
    assert all(len(s) <= 255 for s in rdata.strings)
    assert txt_from_route53(quoted) == value


def test_route53_names() -> None:
    assert name_from_route53("\\052.Example.com.") == "*.example.com."
    assert name_from_route53("_x.example.com") == "_x.example.com."


def test_backoff_doubles_up_to_a_cap() -> None:
    delays = backoff(first=1, cap=10)
    assert [next(delays) for _ in range(6)] == [1, 2, 4, 8, 10, 10]
