"""Ansible-style limit expressions."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrate_cli.core.errors import EXIT_BAD_INPUT, ConfigError, ConfigErrors
from migrate_cli.core.inventory import Host, Inventory, load_inventory
from migrate_cli.core.limits import parse_limit, select_hosts

GROUPS = """
region: {}
core: {groups: [region]}
edge: {}
dc-lon: {}
dc-nyc: {}
empty: {}
"""

HOSTS = """
core-rtr01: {groups: [core, dc-lon]}
core-rtr02: {groups: [core, dc-nyc]}
edge-rtr01: {groups: [edge, dc-lon]}
edge-rtr02: {groups: [edge, dc-nyc]}
fw1: {groups: [region]}
sw1: {}
"2001:db8::1": {}
"""


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    directory: Path = tmp_path_factory.mktemp("limits")
    (directory / "groups.yaml").write_text(textwrap.dedent(GROUPS))
    (directory / "hosts.yaml").write_text(textwrap.dedent(HOSTS))
    return load_inventory(directory)


def names(inventory: Inventory, limit: str | None) -> list[str]:
    return [h.name for h in inventory.select(limit)]


ALL = ["core-rtr01", "core-rtr02", "edge-rtr01", "edge-rtr02", "fw1", "sw1", "2001:db8::1"]


@pytest.mark.parametrize("limit", [None, "", "   ", "all", "*", "@all", " all "])
def test_everything(inventory: Inventory, limit: str | None) -> None:
    assert names(inventory, limit) == ALL


def test_host_names(inventory: Inventory) -> None:
    assert names(inventory, "sw1") == ["sw1"]
    assert names(inventory, "sw1,core-rtr01") == ["core-rtr01", "sw1"]  # inventory order, not limit order
    assert names(inventory, " sw1 , fw1 ") == ["fw1", "sw1"]


def test_group_with_at(inventory: Inventory) -> None:
    assert names(inventory, "@core") == ["core-rtr01", "core-rtr02"]
    assert names(inventory, "@dc-lon") == ["core-rtr01", "edge-rtr01"]


def test_group_inherited_through_child_group(inventory: Inventory) -> None:
    # core's parent is region: core routers are in region too, as is fw1 directly
    assert names(inventory, "@region") == ["core-rtr01", "core-rtr02", "fw1"]


def test_plain_group_name_selects_group(inventory: Inventory) -> None:
    assert names(inventory, "edge") == ["edge-rtr01", "edge-rtr02"]
    assert names(inventory, "region") == ["core-rtr01", "core-rtr02", "fw1"]


def test_globs(inventory: Inventory) -> None:
    assert names(inventory, "core-*") == ["core-rtr01", "core-rtr02"]
    assert names(inventory, "*-rtr0?") == ["core-rtr01", "core-rtr02", "edge-rtr01", "edge-rtr02"]
    assert names(inventory, "*-rtr0[2]") == ["core-rtr02", "edge-rtr02"]
    assert names(inventory, "[fs]*1") == ["fw1", "sw1"]
    assert names(inventory, "@dc-*") == ["core-rtr01", "core-rtr02", "edge-rtr01", "edge-rtr02"]


def test_globs_are_case_sensitive(inventory: Inventory) -> None:
    with pytest.raises(ConfigError, match="matches no host"):
        inventory.select("CORE-*")


def test_exclusions(inventory: Inventory) -> None:
    assert names(inventory, "@core,!core-rtr02") == ["core-rtr01"]
    assert names(inventory, "*-rtr*,!@edge") == ["core-rtr01", "core-rtr02"]
    # exclusions only: start from all hosts (as Ansible)
    assert names(inventory, "!@dc-lon,!@dc-nyc") == ["fw1", "sw1", "2001:db8::1"]


def test_intersections(inventory: Inventory) -> None:
    assert names(inventory, "@core,&@dc-lon") == ["core-rtr01"]
    assert names(inventory, "&@dc-nyc") == ["core-rtr02", "edge-rtr02"]
    assert names(inventory, "@core,@edge,&@dc-nyc,!edge-rtr02") == ["core-rtr02"]


def test_order_union_then_intersection_then_exclusion(inventory: Inventory) -> None:
    # written out of order; the result is still (core ∪ edge) ∩ dc-lon − core-rtr01
    assert names(inventory, "!core-rtr01,&@dc-lon,@core,@edge") == ["edge-rtr01"]


def test_colon_separator(inventory: Inventory) -> None:
    assert names(inventory, "@core:!core-rtr02") == ["core-rtr01"]
    assert names(inventory, "sw1:fw1") == ["fw1", "sw1"]
    # a colon inside brackets is part of the glob
    assert names(inventory, "sw[1:]") == ["sw1"]


def test_host_name_with_colons(inventory: Inventory) -> None:
    assert names(inventory, "2001:db8::1") == ["2001:db8::1"]
    assert names(inventory, "2001:db8::1,sw1") == ["sw1", "2001:db8::1"]
    assert names(inventory, "!2001:db8::1") == ALL[:-1]


def test_zero_hosts_after_exclusion_is_not_an_error(inventory: Inventory) -> None:
    assert names(inventory, "sw1,!sw1") == []
    assert names(inventory, "@core,&@edge") == []


def test_unknown_name_is_an_error(inventory: Inventory) -> None:
    with pytest.raises(ConfigError) as info:
        inventory.select("edge9")
    assert info.value.message == "limit 'edge9' matches no host or group (did you mean 'edge'?)"
    with pytest.raises(ConfigError) as info:
        inventory.select("qqqq")
    assert info.value.message == "limit 'qqqq' matches no host or group"
    assert info.value.exit_code == EXIT_BAD_INPUT


def test_unknown_name_suggests_and_names_the_limit(inventory: Inventory) -> None:
    with pytest.raises(ConfigError) as info:
        inventory.select("sw1,core-rtr1")
    assert info.value.message == (
        "limit 'core-rtr1' (in 'sw1,core-rtr1') matches no host or group (did you mean 'core-rtr01'?)"
    )


def test_typo_in_exclusion_is_an_error(inventory: Inventory) -> None:
    with pytest.raises(ConfigError) as info:
        inventory.select("@core,!core-rtr1")
    assert info.value.message.startswith("limit '!core-rtr1' (in '@core,!core-rtr1') matches no host or group")


def test_several_bad_patterns_reported_together(inventory: Inventory) -> None:
    with pytest.raises(ConfigErrors) as info:
        inventory.select("nope1,@nogroup,zz*,&@empty")
    messages = [e.message for e in info.value.errors]
    assert messages == [
        "limit 'nope1' (in 'nope1,@nogroup,zz*,&@empty') matches no host or group",
        "limit '@nogroup' (in 'nope1,@nogroup,zz*,&@empty') matches no group",
        "limit 'zz*' (in 'nope1,@nogroup,zz*,&@empty') matches no host",
        "limit '&@empty' (in 'nope1,@nogroup,zz*,&@empty'): group 'empty' has no hosts",
    ]
    assert info.value.exit_code == EXIT_BAD_INPUT


def test_group_without_hosts(inventory: Inventory) -> None:
    with pytest.raises(ConfigError, match="group 'empty' has no hosts"):
        inventory.select("empty")
    # without the group list, an empty group cannot be told from nothing at all
    with pytest.raises(ConfigError, match="matches no host or group"):
        select_hosts(inventory.hosts, "empty")


@pytest.mark.parametrize("limit", ["sw1,,fw1", "sw1,", ",sw1", "!", "&", "@", "!@", "sw1:", "sw1, ,fw1"])
def test_empty_pattern_is_an_error(inventory: Inventory, limit: str) -> None:
    with pytest.raises(ConfigError) as info:
        inventory.select(limit)
    assert "empty" in info.value.message
    assert repr(limit.strip()) in info.value.message


def test_double_prefix_is_an_error() -> None:
    with pytest.raises(ConfigError, match="more than one"):
        parse_limit("!&sw1")


def test_parse_limit_structure() -> None:
    expr = parse_limit("@core, !r1, &edge-*, all")
    assert [(p.op, p.kind, p.target) for p in expr.patterns] == [
        ("union", "group", "core"),
        ("exclude", "name", "r1"),
        ("intersect", "glob", "edge-*"),
        ("union", "all", "all"),
    ]
    assert parse_limit(None).selects_all
    assert parse_limit("").patterns == ()
    assert [p.target for p in parse_limit("a:b").patterns] == ["a", "b"]
    assert [p.target for p in parse_limit("a:b", known_names={"a:b"}).patterns] == ["a:b"]


# -- properties ----------------------------------------------------------------------------------------------
_name = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True).filter(lambda n: n != "all")


@st.composite
def host_maps(draw: st.DrawFn) -> dict[str, Host]:
    host_names = draw(st.lists(_name, min_size=1, max_size=8, unique=True))
    group_names = draw(st.lists(_name.filter(lambda n: n not in host_names), min_size=0, max_size=4, unique=True))
    hosts: dict[str, Host] = {}
    for index, name in enumerate(host_names):
        groups = tuple(draw(st.lists(st.sampled_from(group_names), unique=True))) if group_names else ()
        hosts[name] = Host(
            name=name,
            hostname=name,
            port=None,
            username=None,
            password=None,
            platform=None,
            groups=groups,
            all_groups=groups,
            data=MappingProxyType({}),
            connection_options=MappingProxyType({}),
            source=("hosts.yaml", index + 1),
        )
    return hosts


@st.composite
def hosts_and_pattern(draw: st.DrawFn) -> tuple[dict[str, Host], str]:
    hosts = draw(host_maps())
    groups = sorted({g for h in hosts.values() for g in h.all_groups})
    choices = [st.sampled_from(sorted(hosts)), st.sampled_from(sorted(hosts)).map(lambda n: n[:1] + "*")]
    if groups:
        choices.append(st.sampled_from(groups).map(lambda g: "@" + g))
        choices.append(st.sampled_from(groups))
    return hosts, draw(st.one_of(choices))


@settings(max_examples=200, deadline=None)
@given(hosts_and_pattern())
def test_property_a_and_not_a_is_empty(case: tuple[dict[str, Host], str]) -> None:
    hosts, pattern = case
    assert select_hosts(hosts, pattern)  # a pattern that matches something ...
    assert select_hosts(hosts, f"{pattern},!{pattern}") == []  # ... minus itself is nothing
    assert select_hosts(hosts, f"{pattern}:!{pattern}") == []


@settings(max_examples=200, deadline=None)
@given(host_maps(), st.sampled_from(["all", "*", "@all", None, ""]))
def test_property_all_selects_every_host_in_order(hosts: dict[str, Host], limit: str | None) -> None:
    assert select_hosts(hosts, limit) == list(hosts.values())


@settings(max_examples=200, deadline=None)
@given(hosts_and_pattern())
def test_property_result_is_an_ordered_subset(case: tuple[dict[str, Host], str]) -> None:
    hosts, pattern = case
    selected = select_hosts(hosts, pattern)
    order = list(hosts)
    positions = [order.index(h.name) for h in selected]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    # intersecting with itself changes nothing; excluding something only removes
    assert select_hosts(hosts, f"{pattern},&{pattern}") == selected
    first = order[0]
    assert set(h.name for h in select_hosts(hosts, f"{pattern},!{first}")) == {h.name for h in selected} - {first}
