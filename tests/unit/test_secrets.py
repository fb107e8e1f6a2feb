"""Secrets: references, never showing a value, and the masker."""

from __future__ import annotations

import copy
import json
import logging
import pickle
import sys
import threading
import types
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrate_cli.core import secrets as secrets_mod
from migrate_cli.core.errors import EXIT_BAD_INPUT, ConfigError
from migrate_cli.core.inventory import load_inventory
from migrate_cli.core.secrets import (
    MASK,
    Secret,
    looks_secret,
    mask,
    register_secret,
    reveal_all,
)


@pytest.fixture(autouse=True)
def _isolated_masker():
    """Restore the process-wide mask set, so these tests do not mask text in other modules' tests."""
    saved = secrets_mod.registered_secrets_snapshot()
    yield
    secrets_mod.restore_registered_secrets(saved)


# -- parsing -------------------------------------------------------------------------------------------------
def test_parse_env_reference() -> None:
    s = Secret.parse("${env:ROUTER_PASSWORD}")
    assert s.reference == "${env:ROUTER_PASSWORD}"
    assert not s.is_literal
    assert s.scheme == "env"
    assert s.env_name == "ROUTER_PASSWORD"
    assert s.describe() == "${env:ROUTER_PASSWORD}"


def test_parse_keyring_reference_service_may_contain_slash() -> None:
    s = Secret.parse("${keyring:migrate/prod/admin}")
    assert s.reference == "${keyring:migrate/prod/admin}"
    assert s.scheme == "keyring"
    assert s.env_name is None


def test_parse_literal() -> None:
    s = Secret.parse("hunter2-literal")
    assert s.is_literal
    assert s.reference is None
    assert s.describe() == "<literal>"


@pytest.mark.parametrize(
    "raw",
    [
        "${env:}",
        "${env:1ABC}",
        "${env:A-B}",
        "${vault:x}",
        "${keyring:}",
        "${keyring:service}",
        "${keyring:/user}",
        "${keyring:service/}",
        "${env:X",
        "${}",
        "prefix${env:X}",
        "${env:X}suffix",
    ],
)
def test_parse_rejects_malformed_references(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        Secret.parse(raw)
    assert "malformed secret reference" in info.value.message
    assert info.value.exit_code == EXIT_BAD_INPUT


def test_malformed_with_surrounding_text_does_not_quote_the_text() -> None:
    with pytest.raises(ConfigError) as info:
        Secret.parse("MyRealPass${env:X}")
    assert "MyRealPass" not in str(info.value)


def test_equality_and_hash() -> None:
    assert Secret.parse("${env:A}") == Secret.parse("${env:A}")
    assert Secret.parse("${env:A}") != Secret.parse("${env:B}")
    assert Secret.parse("lit-value") == Secret.parse("lit-value")
    assert Secret.parse("${env:A}") != Secret.parse("lit-value")
    assert len({Secret.parse("${env:A}"), Secret.parse("${env:A}")}) == 1


def test_secret_is_immutable() -> None:
    s = Secret.parse("${env:A}")
    with pytest.raises(AttributeError):
        s._literal = "x"  # type: ignore[misc]


# -- never reveal --------------------------------------------------------------------------------------------
def test_never_shown_in_str_repr_format() -> None:
    value = "Sup3r-Secret-Value"
    s = Secret.parse(value)
    texts = [
        str(s),
        repr(s),
        f"{s}",
        f"{s!r}",
        f"{s:>30}",
        "%s %r" % (s, s),  # noqa: UP031 - the old style must be safe too
        "{}".format(s),  # noqa: UP032
        repr([s]),
        repr({"password": s}),
        str((s,)),
    ]
    for text in texts:
        assert value not in text
        assert MASK in text
    assert str(s) == MASK
    assert repr(s) == MASK
    assert f"{s}" == MASK


def test_never_shown_in_logging(caplog: pytest.LogCaptureFixture) -> None:
    value = "Logged-Secret-Value"
    s = Secret.parse(value)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("connecting with %s / %r", s, s)
    assert value not in caplog.text
    assert MASK in caplog.text


def test_copies_and_pickles_keep_the_secret_closed() -> None:
    s = Secret.parse("Copied-Secret-Value")
    assert copy.deepcopy(s) == s
    assert copy.copy(s) is s
    restored = pickle.loads(pickle.dumps(s))
    assert restored == s
    assert repr(restored) == MASK


def test_json_dumps_of_a_secret_refuses() -> None:
    with pytest.raises(TypeError):
        json.dumps({"password": Secret.parse("x-literal")})


def test_public_dict_never_reveals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUB_ROUTER_PW", "Env-Value-Never-Shown")
    (tmp_path / "hosts.yaml").write_text(
        "r1:\n"
        "  password: Literal-Value-Never-Shown\n"
        "  data:\n"
        "    bgp_md5: Md5-Value-Never-Shown\n"
        "    snmp: {community: Community-Never-Shown}\n"
        "    api: ${env:PUB_ROUTER_PW}\n"
        "  connection_options:\n"
        "    netmiko:\n"
        "      password: ${env:PUB_ROUTER_PW}\n"
        "      extras: {secret: Enable-Never-Shown}\n"
    )
    inventory = load_inventory(tmp_path)
    host = inventory.hosts["r1"]
    # the values really are there (reveal works) ...
    assert host.password is not None and host.password.reveal() == "Literal-Value-Never-Shown"
    assert host.data["api"].reveal() == "Env-Value-Never-Shown"
    # ... but nothing public shows them
    public = host.to_public_dict()
    dumped = json.dumps(public)
    for text in (dumped, repr(host), str(host), repr(public), f"{host}"):
        assert "Never-Shown" not in text
    assert public["password"] == "<literal>"
    assert public["data"]["bgp_md5"] == "<literal>"
    assert public["data"]["snmp"]["community"] == "<literal>"
    assert public["data"]["api"] == "${env:PUB_ROUTER_PW}"
    assert public["connection_options"]["netmiko"]["password"] == "${env:PUB_ROUTER_PW}"
    assert public["connection_options"]["netmiko"]["extras"]["secret"] == "<literal>"


# -- resolution ----------------------------------------------------------------------------------------------
def test_env_resolution_registers_with_masker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_PASSWORD_T1", "env-resolved-pw")
    s = Secret.parse("${env:ROUTER_PASSWORD_T1}")
    assert mask("login env-resolved-pw ok") == "login env-resolved-pw ok"  # not revealed yet
    assert s.reveal() == "env-resolved-pw"
    assert mask("login env-resolved-pw ok") == f"login {MASK} ok"


def test_missing_env_names_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROUTER_PASSWORD_MISSING", raising=False)
    with pytest.raises(ConfigError) as info:
        Secret.parse("${env:ROUTER_PASSWORD_MISSING}").reveal()
    assert "${env:ROUTER_PASSWORD_MISSING}" in info.value.message
    assert "not set" in info.value.message
    assert info.value.exit_code == EXIT_BAD_INPUT


def test_empty_env_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_PASSWORD_EMPTY", "")
    with pytest.raises(ConfigError, match="is empty"):
        Secret.parse("${env:ROUTER_PASSWORD_EMPTY}").reveal()


def test_literal_reveal_registers() -> None:
    s = Secret.parse("literal-revealed")
    assert s.reveal() == "literal-revealed"
    assert mask("x literal-revealed y") == f"x {MASK} y"


def test_from_literal_registers_immediately() -> None:
    s = Secret.from_literal("typed-at-prompt")
    assert s.is_literal
    assert mask("pw=typed-at-prompt") == f"pw={MASK}"


def test_keyring_missing_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # makes `import keyring` raise ImportError
    with pytest.raises(ConfigError) as info:
        Secret.parse("${keyring:svc/user}").reveal()
    assert "keyring support needs `pip install keyring`" in info.value.message
    assert "${keyring:svc/user}" in info.value.message


def _fake_keyring(store: dict[tuple[str, str], str], fail: Exception | None = None) -> types.ModuleType:
    module = types.ModuleType("keyring")

    def get_password(service: str, user: str) -> str | None:
        if fail is not None:
            raise fail
        return store.get((service, user))

    module.get_password = get_password  # type: ignore[attr-defined]
    return module


def test_keyring_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", _fake_keyring({("migrate/prod", "admin"): "from-the-keyring"}))
    s = Secret.parse("${keyring:migrate/prod/admin}")
    assert s.reveal() == "from-the-keyring"
    assert mask("pw from-the-keyring") == f"pw {MASK}"


def test_keyring_no_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", _fake_keyring({}))
    with pytest.raises(ConfigError, match="no keyring entry"):
        Secret.parse("${keyring:svc/nobody}").reveal()


def test_keyring_backend_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", _fake_keyring({}, fail=RuntimeError("no backend")))
    with pytest.raises(ConfigError) as info:
        Secret.parse("${keyring:svc/user}").reveal()
    assert "keyring lookup failed" in info.value.message
    assert "${keyring:svc/user}" in info.value.message


def test_reveal_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENABLE_PW_T", "enable-value")
    nested = {"secret": Secret.parse("${env:ENABLE_PW_T}"), "list": [Secret.parse("abcd-lit"), 3], "t": (1,)}
    assert reveal_all(nested) == {"secret": "enable-value", "list": ["abcd-lit", 3], "t": (1,)}


# -- masker --------------------------------------------------------------------------------------------------
def test_mask_replaces_every_occurrence() -> None:
    register_secret("tiger-123")
    assert mask("a tiger-123 b tiger-123") == f"a {MASK} b {MASK}"
    assert mask("nothing here") == "nothing here"
    assert mask("") == ""


def test_mask_ignores_short_values() -> None:
    register_secret("abc")
    assert mask("abc abcabc") == "abc abcabc"


def test_mask_longest_first() -> None:
    register_secret("pass")
    register_secret("password-long")
    assert mask("x password-long y pass") == f"x {MASK} y {MASK}"


def test_mask_overlapping_values_hide_all_characters() -> None:
    register_secret("abcd")
    register_secret("cdef")
    assert mask("xabcdefx") == f"x{MASK}x"


def test_mask_secret_with_asterisks_cannot_survive() -> None:
    register_secret("a***")
    out = mask("aa***")
    assert "a***" not in out


def test_mask_only_asterisks_not_registered() -> None:
    register_secret("******")
    assert mask("x ****** y") == "x ****** y"


def test_mask_multiline_and_regex_chars() -> None:
    register_secret("p.a*s+s(1)")
    register_secret("line1\nline2")
    assert mask("a p.a*s+s(1) b") == f"a {MASK} b"
    assert mask("pXaasss(1)") == "pXaasss(1)"  # regex characters are literal
    assert mask("-line1\nline2-") == f"-{MASK}-"


def test_register_is_thread_safe() -> None:
    values = [f"thread-secret-{i:04d}" for i in range(400)]

    def worker(chunk: list[str]) -> None:
        for v in chunk:
            register_secret(v)
            mask(f"x {v} y")

    threads = [threading.Thread(target=worker, args=(values[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = " ".join(values)
    out = mask(text)
    assert not any(v in out for v in values)
    assert out.count(MASK) == len(values)


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "Enable_Password",
        "secret",
        "tunnel1_psk",
        "pre-shared-key",
        "pre_shared_key",
        "bgp_md5",
        "ospf-auth-key",
        "api_token",
        "snmp_community",
        "passwd",
        "API Key",
    ],
)
def test_looks_secret_yes(key: str) -> None:
    assert looks_secret(key)


@pytest.mark.parametrize("key", ["site", "hostname", "asn", "ntp_servers", "key_file", "description", 5, None])
def test_looks_secret_no(key: object) -> None:
    assert not looks_secret(key)


# -- properties ----------------------------------------------------------------------------------------------
_secret_values = st.text(min_size=4, max_size=24).filter(lambda s: s.strip("*"))


# A small alphabet with '*' makes overlaps and secrets that straddle a mask boundary likely.
_tricky = st.text(alphabet="ab*", max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    secret=_secret_values | st.text(alphabet="ab*", min_size=4, max_size=8).filter(lambda s: s.strip("*")),
    prefix=st.text(max_size=40) | _tricky,
    suffix=st.text(max_size=40) | _tricky,
)
def test_property_mask_never_contains_the_secret(secret: str, prefix: str, suffix: str) -> None:
    register_secret(secret)
    out = mask(prefix + secret + suffix)
    assert secret not in out
    assert MASK in out


@settings(max_examples=200, deadline=None)
@given(secret=_secret_values)
def test_property_secret_object_never_formats_its_value(secret: str) -> None:
    s = Secret.parse(secret) if "${" not in secret else Secret.from_literal(secret)
    assert str(s) == repr(s) == f"{s}" == MASK
    assert repr([s, {"k": s}]) == f"[{MASK}, {{'k': {MASK}}}]"
    assert s.describe() == "<literal>"


@settings(max_examples=200, deadline=None)
@given(
    head=st.text(min_size=1, max_size=6).filter(lambda s: "*" not in s),
    stars=st.integers(min_value=3, max_value=10),
    before=st.booleans(),
    repeat=st.integers(min_value=1, max_value=3),
)
def test_property_mask_secret_with_stars_at_a_mask_boundary(head: str, stars: int, before: bool, repeat: int) -> None:
    # "a***" after "a" would come back as "a" + "********" with a single replacement pass.
    secret = head + "*" * stars if before else "*" * stars + head  # at least 4 characters
    register_secret(secret)
    text = head * repeat + secret if before else secret + head * repeat
    assert secret not in mask(text)
