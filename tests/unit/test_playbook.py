"""Playbook loading: the whole file is validated before anything runs, errors name FILE:LINE."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate_cli.core.errors import ConfigError, ConfigErrors
from migrate_cli.core.inventory import load_inventory
from migrate_cli.core.playbook import load_playbook
from tests.conftest import write


def _errors(exc: ConfigError) -> list[str]:
    return [e.location_message() for e in exc.errors] if isinstance(exc, ConfigErrors) else [str(exc)]


def test_valid_playbook_renders_vars_and_defaults(tmp_path: Path, small_inventory: Path) -> None:
    pb = write(
        tmp_path / "pb.yml",
        """
        name: ok
        vars:
          zone: example.test
        steps:
          - name: resolve
            action: dns.resolve
            with:
              name: "www.{{ zone }}"
              nameservers: ["127.0.0.1:53"]
              expect: ["{{ defaults.site }}"]
          - name: facts
            action: network.facts
            hosts: "@edge"
            tags: [net]
            on_failure: continue
        """,
    )
    playbook = load_playbook(pb, load_inventory(small_inventory))
    assert [s.name for s in playbook.steps] == ["resolve", "facts"]
    assert playbook.steps[0].params.name == "www.example.test"
    assert playbook.steps[0].params.expect == ["hq"]
    assert playbook.steps[1].tags == frozenset({"net"})
    assert playbook.steps[1].on_failure == "continue"


def test_every_error_reported_with_its_line(tmp_path: Path, small_inventory: Path) -> None:
    pb = write(
        tmp_path / "bad.yml",
        """
        name: broken
        steps:
          - name: unknown action
            action: network.fact
          - name: bad parameter
            action: dns.resolve
            with:
              name: www.example.test
              nameservers: ["127.0.0.1"]
              bogus: 1
          - name: bad limit
            action: network.facts
            hosts: "@nosuchgroup"
          - name: bad on_failure
            action: network.facts
            on_failure: explode
        """,
    )
    with pytest.raises(ConfigErrors) as info:
        load_playbook(pb, load_inventory(small_inventory))
    messages = _errors(info.value)
    assert len(messages) == 4
    assert messages[0].startswith(f"{pb}:4: steps[0].action: unknown action 'network.fact'")
    assert "did you mean 'network.facts'" in messages[0]
    assert messages[1] == f"{pb}:10: steps[1].with.bogus: unknown parameter"
    assert messages[2].startswith(f"{pb}:13: steps[2].hosts:")
    assert messages[3].startswith(f"{pb}:16: steps[3].on_failure:")


def test_missing_required_parameter_points_at_with(tmp_path: Path, small_inventory: Path) -> None:
    pb = write(
        tmp_path / "pb.yml",
        """
        name: p
        steps:
          - name: r
            action: dns.resolve
            with:
              name: x.test
        """,
    )
    with pytest.raises(ConfigErrors) as info:
        load_playbook(pb, load_inventory(small_inventory))
    assert _errors(info.value) == [f"{pb}:6: steps[0].with.nameservers: Field required"]


def test_template_error_and_yaml_error(tmp_path: Path, small_inventory: Path) -> None:
    inventory = load_inventory(small_inventory)
    pb = write(
        tmp_path / "pb.yml",
        """
        name: p
        steps:
          - name: r
            action: dns.resolve
            with:
              name: "{{ nope }}"
              nameservers: [a]
        """,
    )
    with pytest.raises(ConfigErrors) as info:
        load_playbook(pb, inventory)
    assert "template error" in _errors(info.value)[0] and ":6:" in _errors(info.value)[0]
    bad_yaml = write(tmp_path / "y.yml", "name: p\nsteps:\n  - name: [unclosed\n")
    with pytest.raises(ConfigError) as info2:
        load_playbook(bad_yaml, inventory)
    assert str(info2.value).startswith(f"{bad_yaml}:")


def test_top_level_shape(tmp_path: Path, small_inventory: Path) -> None:
    inventory = load_inventory(small_inventory)
    for text, expected in [
        ("- just a list\n", ":1: a playbook is a mapping"),
        ("name: p\nsteps: []\n", ":2: steps:"),
        ("name: p\nstep: []\n", "unknown key"),
    ]:
        pb = write(tmp_path / "p.yml", text)
        with pytest.raises(ConfigError) as info:
            load_playbook(pb, inventory)
        assert any(expected in m for m in _errors(info.value)), _errors(info.value)
