"""Inventory loading: inheritance, data merge, connection options, validation with FILE:LINE, warnings."""

from __future__ import annotations

import json
import sys
import textwrap
import types
from pathlib import Path

import pytest

from migrate_cli.core import secrets as secrets_mod
from migrate_cli.core.errors import EXIT_BAD_INPUT, ConfigError, ConfigErrors
from migrate_cli.core.inventory import ConnectionOptions, Inventory, load_inventory
from migrate_cli.core.secrets import Secret


@pytest.fixture(autouse=True)
def _isolated_masker():
    saved = secrets_mod.registered_secrets_snapshot()
    yield
    secrets_mod.restore_registered_secrets(saved)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def load_errors(directory: Path) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        load_inventory(directory)
    assert info.value.exit_code == EXIT_BAD_INPUT
    return [e.location_message() for e in info.value.errors]


# ------------------------------------------------------------------------------------------------------------
# Inheritance
# ------------------------------------------------------------------------------------------------------------
DEFAULTS = """
port: 22
username: default-user
platform: cisco_ios
data:
  site: default-site
  dflt_only: from-defaults
  ntp: {primary: 192.0.2.1, secondary: 192.0.2.2}
connection_options:
  netmiko:
    extras: {fast_cli: false}
"""

GROUPS = """
region:
  username: region-user
  data:
    site: region-site
    region: emea
core:
  groups: [region]
  port: 2201
  data:
    role: core
  connection_options:
    netmiko:
      port: 8022
edge:
  port: 2202
  username: edge-user
  platform: juniper_junos
  data:
    role: edge
    site: edge-site
    tier: 2
"""

HOSTS = """
r1:
  hostname: 10.0.0.1
  groups: [core, edge]
  password: ${env:INV_TEST_R1_PW}
  data:
    hostonly: 1
    ntp: {primary: 198.51.100.1}
  connection_options:
    netmiko:
      username: conn-user
r2:
  groups: [edge, core]
r3:
r4:
  groups: [core]
  username: host-user
  port: null
  data:
    site: null
"""


@pytest.fixture
def inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Inventory:
    monkeypatch.setenv("INV_TEST_R1_PW", "r1-env-password")
    write(tmp_path, "defaults.yaml", DEFAULTS)
    write(tmp_path, "groups.yaml", GROUPS)
    write(tmp_path, "hosts.yaml", HOSTS)
    return load_inventory(tmp_path)


def test_hosts_in_file_order(inventory: Inventory) -> None:
    assert list(inventory.hosts) == ["r1", "r2", "r3", "r4"]
    assert list(inventory.groups) == ["region", "core", "edge"]


def test_inheritance_order_host_group1_parent_group2_defaults(inventory: Inventory) -> None:
    r1 = inventory.hosts["r1"]
    assert r1.groups == ("core", "edge")
    assert r1.all_groups == ("core", "region", "edge")
    assert r1.hostname == "10.0.0.1"  # host
    assert r1.port == 2201  # core (group1) beats edge (group2)
    assert r1.username == "region-user"  # core's parent region beats edge
    assert r1.platform == "juniper_junos"  # only edge sets it: beats defaults

    r2 = inventory.hosts["r2"]
    assert r2.all_groups == ("edge", "core", "region")
    assert r2.port == 2202
    assert r2.username == "edge-user"
    assert r2.platform == "juniper_junos"


def test_defaults_and_hostname_falls_back_to_name(inventory: Inventory) -> None:
    r3 = inventory.hosts["r3"]
    assert r3.hostname == "r3"
    assert r3.port == 22
    assert r3.username == "default-user"
    assert r3.platform == "cisco_ios"
    assert r3.password is None
    assert r3.groups == () and r3.all_groups == ()
    assert dict(r3.data) == {
        "site": "default-site",
        "dflt_only": "from-defaults",
        "ntp": {"primary": "192.0.2.1", "secondary": "192.0.2.2"},
    }


def test_null_host_field_falls_through(inventory: Inventory) -> None:
    r4 = inventory.hosts["r4"]
    assert r4.username == "host-user"
    assert r4.port == 2201  # `port: null` on the host does not hide core's port


def test_data_merged_per_key_without_deep_merge(inventory: Inventory) -> None:
    r1 = inventory.hosts["r1"]
    assert dict(r1.data) == {
        "hostonly": 1,
        "ntp": {"primary": "198.51.100.1"},  # host's mapping wins whole, not deep-merged with defaults'
        "role": "core",  # core beats edge
        "site": "region-site",  # core's parent region beats edge and defaults
        "region": "emea",
        "tier": 2,  # only edge
        "dflt_only": "from-defaults",
    }
    assert inventory.hosts["r2"].data["role"] == "edge"
    assert inventory.hosts["r2"].data["site"] == "edge-site"
    # an explicit null on the host hides the inherited value (Nornir's host[key])
    assert inventory.hosts["r4"].data["site"] is None


def test_data_is_not_shared_between_hosts(inventory: Inventory) -> None:
    r2, r3 = inventory.hosts["r2"], inventory.hosts["r3"]
    r2.data["ntp"]["primary"] = "changed"
    assert r3.data["ntp"]["primary"] == "192.0.2.1"
    with pytest.raises(TypeError):
        r3.data["new"] = 1  # type: ignore[index]


def test_connection_options_fallback(inventory: Inventory) -> None:
    r1 = inventory.hosts["r1"]
    merged = r1.connection_options["netmiko"]
    assert merged.username == "conn-user"
    assert merged.port == 8022
    assert merged.hostname is None  # not set in any layer: fallback happens in connection()

    conn = r1.connection("netmiko")
    assert conn.hostname == "10.0.0.1"  # host field
    assert conn.port == 8022  # core's netmiko options beat the host's own resolved port
    assert conn.username == "conn-user"
    assert conn.platform == "juniper_junos"
    assert conn.password == Secret.parse("${env:INV_TEST_R1_PW}")
    assert dict(conn.extras) == {"fast_cli": False}  # from defaults

    r3 = inventory.hosts["r3"].connection()  # netmiko is the default
    assert (r3.hostname, r3.port, r3.username, r3.platform) == ("r3", 22, "default-user", "cisco_ios")

    other = r1.connection("napalm")  # never configured: the host's fields
    assert other == ConnectionOptions(
        hostname="10.0.0.1", port=2201, username="region-user", password=r1.password, platform="juniper_junos"
    )
    assert dict(other.extras) == {}


def test_password_is_a_secret_and_reveals(inventory: Inventory) -> None:
    r1 = inventory.hosts["r1"]
    assert isinstance(r1.password, Secret)
    assert r1.password.reveal() == "r1-env-password"
    assert "r1-env-password" not in json.dumps(r1.to_public_dict())


def test_public_dict_is_json(inventory: Inventory, tmp_path: Path) -> None:
    public = inventory.hosts["r1"].to_public_dict()
    assert json.loads(json.dumps(public)) == public
    assert public["password"] == "${env:INV_TEST_R1_PW}"
    assert public["all_groups"] == ["core", "region", "edge"]
    assert public["source"] == {"file": str(tmp_path / "hosts.yaml"), "line": 1}
    assert public["connection_options"]["netmiko"]["hostname"] == "10.0.0.1"


def test_sources_and_group_objects(inventory: Inventory, tmp_path: Path) -> None:
    assert inventory.hosts["r2"].source == (str(tmp_path / "hosts.yaml"), 11)
    core = inventory.groups["core"]
    assert core.groups == ("region",)
    assert core.ancestors == ("region",)
    assert core.port == 2201
    assert core.username is None  # groups keep their own values
    assert core.source == (str(tmp_path / "groups.yaml"), 6)
    assert inventory.defaults.port == 22


def test_no_warnings_for_references_that_are_set(inventory: Inventory) -> None:
    assert inventory.warnings == ()


def test_diamond_groups_resolve_once_in_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        "groups.yaml",
        """
        base: {port: 1001, username: base-user}
        left: {groups: [base]}
        right: {groups: [base], port: 1003, username: right-user}
        """,
    )
    write(tmp_path, "hosts.yaml", "h: {groups: [left, right]}\n")
    host = load_inventory(tmp_path).hosts["h"]
    assert host.all_groups == ("left", "base", "right")
    assert (host.port, host.username) == (1001, "base-user")  # base via left comes before right


# ------------------------------------------------------------------------------------------------------------
# Secrets in data and extras
# ------------------------------------------------------------------------------------------------------------
def test_secret_looking_data_and_references_become_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INV_TEST_API", "api-value")
    write(
        tmp_path,
        "hosts.yaml",
        """
        r1:
          data:
            bgp_md5: literal-md5
            asn: 65001
            description: plain text
            api: ${env:INV_TEST_API}
            vpn:
              tunnels:
                - {peer: 203.0.113.1, psk: "${env:INV_TEST_API}"}
            secrets: [one-literal, two-literal]
            token_ttl: 300
          connection_options:
            netmiko:
              extras: {secret: enable-literal, global_delay_factor: 2}
        """,
    )
    inv = load_inventory(tmp_path)
    data = inv.hosts["r1"].data
    assert isinstance(data["bgp_md5"], Secret) and data["bgp_md5"].is_literal
    assert data["asn"] == 65001
    assert data["description"] == "plain text"
    assert isinstance(data["api"], Secret) and data["api"].reveal() == "api-value"
    assert isinstance(data["vpn"]["tunnels"][0]["psk"], Secret)
    assert data["vpn"]["tunnels"][0]["peer"] == "203.0.113.1"
    assert all(isinstance(s, Secret) for s in data["secrets"])
    assert data["token_ttl"] == 300  # only strings become secrets
    extras = inv.hosts["r1"].connection().extras
    assert isinstance(extras["secret"], Secret) and extras["global_delay_factor"] == 2


# ------------------------------------------------------------------------------------------------------------
# Warnings
# ------------------------------------------------------------------------------------------------------------
USE_REFS = "use ${env:NAME} or ${keyring:SERVICE/USER}"


def test_warnings_for_literal_secrets_and_unset_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INV_TEST_UNSET", raising=False)
    monkeypatch.setenv("INV_TEST_SET", "value")
    hosts = write(
        tmp_path,
        "hosts.yaml",
        """
        r1:
          password: cisco123
          data:
            ospf_auth_key: abc
        r2:
          password: ${env:INV_TEST_UNSET}
        r3:
          password: ${env:INV_TEST_SET}
        """,
    )
    groups = write(tmp_path, "groups.yaml", "g: {password: group-literal}\n")
    inv = load_inventory(tmp_path)
    warnings = [w.location_message() for w in inv.warnings]
    assert warnings == [
        f"{groups}:1: group 'g': password is a literal secret; {USE_REFS}",
        f"{hosts}:2: host 'r1': password is a literal secret; {USE_REFS}",
        f"{hosts}:4: host 'r1': data.ospf_auth_key is a literal secret; {USE_REFS}",
        f"{hosts}:6: host 'r2': password: ${{env:INV_TEST_UNSET}} is not set in this environment",
    ]
    assert all(isinstance(w, ConfigError) for w in inv.warnings)
    assert "cisco123" not in "\n".join(warnings)
    # unset at load time is only a warning; revealing it is the error
    with pytest.raises(ConfigError, match=r"\$\{env:INV_TEST_UNSET\}"):
        inv.hosts["r2"].password.reveal()  # type: ignore[union-attr]


def test_keyring_reference_warns_when_keyring_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hosts = write(tmp_path, "hosts.yaml", "r1:\n  password: ${keyring:migrate/r1}\n")
    monkeypatch.setitem(sys.modules, "keyring", None)  # not importable
    inv = load_inventory(tmp_path)
    assert [w.location_message() for w in inv.warnings] == [
        f"{hosts}:2: host 'r1': password: ${{keyring:migrate/r1}} needs `pip install keyring`"
    ]
    monkeypatch.setitem(sys.modules, "keyring", types.ModuleType("keyring"))  # importable
    assert load_inventory(tmp_path).warnings == ()


def test_host_named_like_a_group_warns(tmp_path: Path) -> None:
    write(tmp_path, "groups.yaml", "core: {}\n")
    hosts = write(tmp_path, "hosts.yaml", "r1: {groups: [core]}\ncore: {}\n")
    inv = load_inventory(tmp_path)
    assert [w.location_message() for w in inv.warnings] == [
        f"{hosts}:2: host 'core' has the same name as a group: --limit core selects the host, --limit @core the group"
    ]
    assert [h.name for h in inv.select("core")] == ["core"]
    assert [h.name for h in inv.select("@core")] == ["r1"]


def test_empty_hosts_file_warns(tmp_path: Path) -> None:
    write(tmp_path, "hosts.yaml", "# nothing yet\n")
    inv = load_inventory(tmp_path)
    assert inv.hosts == {}
    assert [w.message for w in inv.warnings] == ["no hosts defined"]


# ------------------------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------------------------
def test_yml_variant(tmp_path: Path) -> None:
    write(tmp_path, "hosts.yml", "r1: {groups: [core]}\n")
    write(tmp_path, "groups.yml", "core: {platform: arista_eos}\n")
    write(tmp_path, "defaults.yml", "username: ops\n")
    host = load_inventory(tmp_path).hosts["r1"]
    assert (host.platform, host.username) == ("arista_eos", "ops")


def test_both_yaml_and_yml_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "hosts.yaml", "r1: {}\n")
    write(tmp_path, "hosts.yml", "r1: {}\n")
    write(tmp_path, "groups.yaml", "g: {}\n")
    write(tmp_path, "groups.yml", "g: {}\n")
    assert load_errors(tmp_path) == [
        f"{tmp_path / 'groups.yml'}: both groups.yaml and groups.yml exist; keep only one",
        f"{tmp_path / 'hosts.yml'}: both hosts.yaml and hosts.yml exist; keep only one",
    ]


def test_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert load_errors(missing) == [f"{missing}: inventory directory does not exist"]


def test_directory_is_a_file(tmp_path: Path) -> None:
    path = write(tmp_path, "file", "x")
    assert load_errors(path) == [f"{path}: inventory path is not a directory"]


def test_missing_hosts_file(tmp_path: Path) -> None:
    write(tmp_path, "groups.yaml", "g: {}\n")
    assert load_errors(tmp_path) == [f"{tmp_path}: no hosts.yaml (or hosts.yml) in the inventory directory"]


def test_yaml_syntax_error_with_line_and_other_files_still_checked(tmp_path: Path) -> None:
    write(tmp_path, "hosts.yaml", "r1:\n  port: 22\n  groups: [core\n")
    write(tmp_path, "defaults.yaml", "prot: 22\n")
    errors = load_errors(tmp_path)
    assert errors[0] == f"{tmp_path / 'defaults.yaml'}:1: defaults: unknown key 'prot' (did you mean 'port'?)"
    assert errors[1].startswith(f"{tmp_path / 'hosts.yaml'}:4: invalid YAML")
    assert len(errors) == 2


def test_duplicate_host_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "hosts.yaml", "r1: {}\nr2: {}\nr1: {}\n")
    assert load_errors(tmp_path) == [f"{tmp_path / 'hosts.yaml'}:3: duplicate key 'r1'"]


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    write(tmp_path, "hosts.yaml", "- r1\n- r2\n")
    write(tmp_path, "defaults.yaml", "just a string\n")
    assert load_errors(tmp_path) == [
        f"{tmp_path / 'defaults.yaml'}:1: top level must be a mapping of default fields, got a str",
        f"{tmp_path / 'hosts.yaml'}:1: top level must be a mapping of host name -> host fields, got a list",
    ]


# ------------------------------------------------------------------------------------------------------------
# Validation: every error in one pass, at the right FILE:LINE
# ------------------------------------------------------------------------------------------------------------
def test_every_error_reported_in_one_pass(tmp_path: Path) -> None:
    hosts = write(
        tmp_path,
        "hosts.yaml",
        """
        r1:
          hostnme: 10.0.0.1
          port: 70000
          groups: [core, edgee]
          platform: cisco_iso
          password: ${vault:x}
          data:
            site: lon
        r2:
          groups: core
          connection_options:
            netmiko:
              prot: 22
              extras: {secret: "${env:}"}
        r3: 10.0.0.3
        r4:
          port: "22"
          username: 12
          data: [a, b]
        r5:
          groups: [core, 7]
          connection_options:
            napalm: {platform: ios}
            netmiko: {platform: ios}
        """,
    )
    groups = write(
        tmp_path,
        "groups.yaml",
        """
        core:
          groups: [dc]
        dc:
          groups: [core]
        edge: {}
        loop:
          groups: [loop]
        orphan:
          groups: [nowhere]
        """,
    )
    defaults = write(tmp_path, "defaults.yaml", "groups: [core]\nusername: admin\nplatform: ios\nport: true\n")
    assert load_errors(tmp_path) == [
        f"{defaults}:1: defaults: unknown key 'groups' (defaults cannot belong to groups)",
        f"{defaults}:3: defaults: platform: unknown netmiko platform 'ios' (did you mean 'cisco_ios'?)",
        f"{defaults}:4: defaults: port: must be an integer (got True)",
        f"{groups}:4: group cycle: core -> dc -> core",
        f"{groups}:7: group cycle: loop -> loop",
        f"{groups}:9: group 'orphan' refers to unknown group 'nowhere'",
        f"{hosts}:2: host 'r1': unknown key 'hostnme' (did you mean 'hostname'?)",
        f"{hosts}:3: host 'r1': port: must be between 1 and 65535 (got 70000)",
        f"{hosts}:4: host 'r1' refers to unknown group 'edgee' (did you mean 'edge'?)",
        f"{hosts}:5: host 'r1': platform: unknown netmiko platform 'cisco_iso' (did you mean 'cisco_ios'?)",
        f"{hosts}:6: host 'r1': password: malformed secret reference '${{vault:x}}': unknown source 'vault'; "
        f"expected ${{env:NAME}} or ${{keyring:SERVICE/USER}}",
        f"{hosts}:10: host 'r2': groups: must be a list of group names, e.g. [core, edge] (got 'core')",
        f"{hosts}:13: host 'r2': connection_options.netmiko: unknown key 'prot' (did you mean 'port'?)",
        f"{hosts}:14: host 'r2': connection_options.netmiko.extras.secret: malformed secret reference "
        f"'${{env:}}': ${{env:NAME}} needs an environment variable name (letters, digits, '_'; not starting "
        f"with a digit)",
        f"{hosts}:15: host 'r3' must be a mapping of fields (or empty), got a str",
        f"{hosts}:17: host 'r4': port: must be an integer (got '22')",
        f"{hosts}:18: host 'r4': username: must be a string (put it in quotes)",
        f"{hosts}:19: host 'r4': data: must be a mapping",
        f"{hosts}:21: host 'r5': groups[1]: must be a string (put it in quotes)",
        f"{hosts}:24: host 'r5': connection_options.netmiko.platform: unknown netmiko platform 'ios' "
        f"(did you mean 'cisco_ios'?)",
    ]


def test_secret_type_errors_do_not_echo_the_value(tmp_path: Path) -> None:
    write(tmp_path, "hosts.yaml", "r1:\n  password: 98765432\n")
    errors = load_errors(tmp_path)
    assert errors == [f"{tmp_path / 'hosts.yaml'}:2: host 'r1': password: must be a string (put it in quotes)"]
    assert "98765432" not in errors[0]


def test_references_rejected_outside_secret_fields(tmp_path: Path) -> None:
    write(tmp_path, "hosts.yaml", "r1:\n  username: ${env:USER}\n")
    assert load_errors(tmp_path) == [
        f"{tmp_path / 'hosts.yaml'}:2: host 'r1': username: secret references are only supported in "
        "password, data and extras"
    ]


def test_unknown_group_without_groups_file(tmp_path: Path) -> None:
    write(tmp_path, "hosts.yaml", "r1:\n  groups:\n    - core\n")
    assert load_errors(tmp_path) == [
        f"{tmp_path / 'hosts.yaml'}:3: host 'r1' refers to unknown group 'core' (there is no groups.yaml)"
    ]


def test_group_listed_twice(tmp_path: Path) -> None:
    write(tmp_path, "groups.yaml", "core: {}\n")
    write(tmp_path, "hosts.yaml", "r1:\n  groups: [core, core]\n")
    assert load_errors(tmp_path) == [f"{tmp_path / 'hosts.yaml'}:2: host 'r1': group 'core' is listed twice"]


def test_broken_groups_file_does_not_cascade(tmp_path: Path) -> None:
    write(tmp_path, "groups.yaml", "core: {\n")
    write(tmp_path, "hosts.yaml", "r1: {groups: [core]}\n")
    errors = load_errors(tmp_path)
    assert len(errors) == 1 and "groups.yaml" in errors[0] and "invalid YAML" in errors[0]


def test_longer_group_cycle(tmp_path: Path) -> None:
    groups = write(tmp_path, "groups.yaml", "a: {groups: [b]}\nb: {groups: [c]}\nc: {groups: [a]}\n")
    write(tmp_path, "hosts.yaml", "r1: {groups: [a]}\n")
    assert load_errors(tmp_path) == [f"{groups}:3: group cycle: a -> b -> c -> a"]


@pytest.mark.parametrize(
    ("platform", "suggestion"),
    [
        ("cisco_iso", "cisco_ios"),
        ("nxos", "cisco_nxos"),
        ("junos", "juniper_junos"),
        ("aristaeos", "arista_eos"),
    ],
)
def test_unknown_platform_suggests(tmp_path: Path, platform: str, suggestion: str) -> None:
    write(tmp_path, "hosts.yaml", f"r1:\n  platform: {platform}\n")
    assert load_errors(tmp_path) == [
        f"{tmp_path / 'hosts.yaml'}:2: host 'r1': platform: unknown netmiko platform {platform!r} "
        f"(did you mean {suggestion!r}?)"
    ]


def test_unknown_platform_without_suggestion(tmp_path: Path) -> None:
    write(tmp_path, "hosts.yaml", "r1:\n  platform: zzzzqqq\n")
    assert load_errors(tmp_path) == [
        f"{tmp_path / 'hosts.yaml'}:2: host 'r1': platform: unknown netmiko platform 'zzzzqqq'"
    ]


def test_known_platforms_and_other_connections(tmp_path: Path) -> None:
    write(
        tmp_path,
        "hosts.yaml",
        "r1: {platform: cisco_xe}\nr2: {platform: linux, connection_options: {napalm: {platform: ios}}}\n",
    )
    inv = load_inventory(tmp_path)
    assert inv.hosts["r2"].connection("napalm").platform == "ios"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("all", "is reserved"),
        ("a,b", "cannot contain ','"),
        ("'a b'", "cannot contain 'whitespace'"),
        ("'r*'", "cannot contain '*'"),
        ("'!r1'", "cannot start with '!'"),
        ("'@r1'", "cannot start with '@'"),
        ("1", "host name must be a string, got int 1"),
    ],
)
def test_bad_host_names(tmp_path: Path, name: str, problem: str) -> None:
    write(tmp_path, "hosts.yaml", f"ok: {{}}\n{name}: {{}}\n")
    errors = load_errors(tmp_path)
    assert len(errors) == 1
    assert errors[0].startswith(f"{tmp_path / 'hosts.yaml'}:2: ")
    assert problem in errors[0]


def test_colon_allowed_in_host_names_not_group_names(tmp_path: Path) -> None:
    write(tmp_path, "groups.yaml", "'a:b': {}\n")
    write(tmp_path, "hosts.yaml", "'2001:db8::1': {groups: ['a:b']}\n")
    # the bad group name is reported once; the host that uses it gets no knock-on error
    assert load_errors(tmp_path) == [f"{tmp_path / 'groups.yaml'}:1: group name 'a:b' cannot contain ':'"]


def test_nested_unknown_key_line_in_defaults_connection(tmp_path: Path) -> None:
    write(tmp_path, "hosts.yaml", "r1: {}\n")
    defaults = write(
        tmp_path,
        "defaults.yaml",
        """
        connection_options:
          netmiko:
            extras: {}
            usernme: x
        """,
    )
    assert load_errors(tmp_path) == [
        f"{defaults}:4: defaults: connection_options.netmiko: unknown key 'usernme' (did you mean 'username'?)"
    ]


def test_select_delegates_to_limits(inventory: Inventory) -> None:
    assert [h.name for h in inventory.select(None)] == ["r1", "r2", "r3", "r4"]
    assert [h.name for h in inventory.select("@region")] == ["r1", "r2", "r4"]
    assert [h.name for h in inventory.select("edge,!r2")] == ["r1"]
