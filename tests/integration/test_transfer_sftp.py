"""SFTP against a real paramiko SFTP server on 127.0.0.1 (sftp_server.py): inventory hosts, host-key
checking (unknown, changed, trust on first use), round trips, parts, deletes, SFTP to S3."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest
from sftp_server import PASSWORD, USER, SftpTestServer
from transfer_helpers import MiB, files, make_tree, objects, sync

from migrate_cli.aws.session import client
from migrate_cli.core.errors import ConfigError, OperationFailed
from migrate_cli.core.inventory import Inventory, load_inventory
from migrate_cli.lab.aws_endpoint import LocalAwsEndpoint
from tests.conftest import point_at


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SftpTestServer]:
    root = tmp_path / "server-root"
    root.mkdir()
    srv = SftpTestServer(root)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def known_hosts(tmp_path: Path, server: SftpTestServer) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(server.known_hosts_line())
    return path


def _inventory(
    tmp_path: Path, server: SftpTestServer, known_hosts: Path, password: str = "${env:SFTP_TEST_PW}"
) -> Inventory:
    inv = tmp_path / "inventory"
    inv.mkdir(exist_ok=True)
    (inv / "hosts.yaml").write_text(
        textwrap.dedent(
            f"""
            web1:
              hostname: 127.0.0.1
              port: {server.port}
              username: {USER}
              password: "{password}"
              connection_options:
                sftp:
                  extras:
                    known_hosts: {known_hosts}
            """
        )
    )
    return load_inventory(inv)


@pytest.fixture
def inventory(tmp_path: Path, server: SftpTestServer, known_hosts: Path, monkeypatch: pytest.MonkeyPatch) -> Inventory:
    monkeypatch.setenv("SFTP_TEST_PW", PASSWORD)
    return _inventory(tmp_path, server, known_hosts)


def test_round_trip_through_an_inventory_host(server: SftpTestServer, inventory: Inventory, tmp_path: Path) -> None:
    src, state = tmp_path / "src", tmp_path / "state"
    content = make_tree(src, files=10)
    (src / "big.bin").write_bytes(os.urandom(11 * MiB))  # in parts
    (src / "mid.bin").write_bytes(os.urandom(2 * MiB))  # in one write, streamed from disk
    content["big.bin"] = (src / "big.bin").read_bytes()
    content["mid.bin"] = (src / "mid.bin").read_bytes()
    plan, result = sync(src, "web1:/site", state, inventory, part_size="5M", workers=4)
    assert result is not None and not result.failed and result.copied == len(content)
    assert files(server.root / "site") == content
    # This host runs no commands (an SFTP-only account): its copies cannot be checked there, and say so.
    assert result.verified == 0 and result.unverified == len(content)
    for key in content:  # mtimes to the second (SFTP's resolution)
        assert int((server.root / "site" / key).stat().st_mtime) == int((src / key).stat().st_mtime)
    assert not list((server.root / "site").rglob("*.migrate-partial"))
    plan, result = sync(src, "web1:/site", state, inventory)
    assert not plan.copies and result is None
    plan, _ = sync(src, "web1:/site", tmp_path / "fresh-state", inventory)  # no state: the mtimes decide
    assert not plan.copies
    back = tmp_path / "back"
    _, down = sync("sftp://web1/site", back, state, inventory, workers=3)
    assert down is not None and not down.failed and files(back) == content


@pytest.fixture
def host(tmp_path: Path) -> Iterator[SftpTestServer]:
    """An SSH host that also runs commands, with the machine's real /bin/sh, dd and sha256sum, over the
    real filesystem (so the paths the client sees are the shell's)."""
    srv = SftpTestServer(Path("/"), shell=True)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def host_inventory(tmp_path: Path, host: SftpTestServer, monkeypatch: pytest.MonkeyPatch) -> Inventory:
    monkeypatch.setenv("SFTP_TEST_PW", PASSWORD)
    (tmp_path / "host_known_hosts").write_text(host.known_hosts_line())
    return _inventory(tmp_path, host, tmp_path / "host_known_hosts")


def _big_and_small(src: Path) -> dict[str, bytes]:
    content = make_tree(src, files=6)
    for name, size in (("big.bin", 11 * MiB), ("mid.bin", 2 * MiB)):  # in parts; in one write
        content[name] = os.urandom(size)
        (src / name).write_bytes(content[name])
    return content


def test_writes_are_checked_by_the_hosts_own_sha256(
    host: SftpTestServer, host_inventory: Inventory, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    content = _big_and_small(src)
    _, result = sync(src, f"web1:{tmp_path}/site", tmp_path / "state", host_inventory, part_size="5M", workers=4)
    assert result is not None and not result.failed and result.copied == len(content)
    assert result.verified == len(content) and result.unverified == 0
    assert files(tmp_path / "site") == content
    hashed = [c for c in host.commands if "sha256sum" in c]
    assert len(hashed) == len(content) and any("dd if=" in c for c in hashed)  # big.bin: part by part


@pytest.mark.parametrize("name", ["big.bin", "mid.bin"])
def test_a_host_that_stores_other_bytes_is_caught_and_sent_again(
    host: SftpTestServer, host_inventory: Inventory, tmp_path: Path, name: str
) -> None:
    src = tmp_path / "src"
    content = {name: _big_and_small(src)[name]}
    for other in [p for p in src.rglob("*") if p.is_file() and p.name != name]:
        other.unlink()
    host.corrupt_writes = 1  # one byte of the first write lands flipped
    _, result = sync(src, f"web1:{tmp_path}/site", tmp_path / "state", host_inventory, part_size="5M")
    assert host.corrupt_writes == 0
    assert result is not None and not result.failed and result.retries >= 1 and result.verified == 1
    assert files(tmp_path / "site") == content


def test_delete_and_changes_over_sftp(server: SftpTestServer, inventory: Inventory, tmp_path: Path) -> None:
    src, state = tmp_path / "src", tmp_path / "state"
    make_tree(src, files=4)
    sync(src, "web1:/site", state, inventory)
    (server.root / "site" / "extra.txt").write_text("not in source")
    (src / "empty.txt").write_text("no longer empty")
    plan, result = sync(src, "web1:/site", state, inventory, delete=True)
    assert [i.key for i in plan.copies] == ["empty.txt"] and [e.key for e in plan.deletes] == ["extra.txt"]
    assert result is not None and result.deleted == 1
    assert files(server.root / "site") == files(src)


def test_unknown_host_key_is_refused_before_login(server: SftpTestServer, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    inventory = _inventory(tmp_path, server, tmp_path / "empty_known_hosts", password=PASSWORD)
    with pytest.raises(OperationFailed, match=r"host key ecdsa-sha2-nistp256 SHA256:\S+ .* is not in"):
        sync(tmp_path / "src", "web1:/site", tmp_path / "state", inventory)
    assert not (server.root / "site").exists()


def test_changed_host_key_is_refused(server: SftpTestServer, tmp_path: Path) -> None:
    other = paramiko.ECDSAKey.generate()
    known = tmp_path / "kh"
    known.write_text(f"[127.0.0.1]:{server.port} {other.get_name()} {other.get_base64()}\n")
    (tmp_path / "src").mkdir()
    inventory = _inventory(tmp_path, server, known, password=PASSWORD)
    with pytest.raises(OperationFailed, match="HOST KEY CHANGED"):
        sync(tmp_path / "src", "web1:/site", tmp_path / "state", inventory, accept_new_host_keys=True)


def test_accept_new_host_keys_records_the_key(server: SftpTestServer, tmp_path: Path) -> None:
    known = tmp_path / "tofu_known_hosts"
    inventory = _inventory(tmp_path, server, known, password=PASSWORD)
    make_tree(tmp_path / "src", files=2)
    _, result = sync(tmp_path / "src", "web1:/site", tmp_path / "state", inventory, accept_new_host_keys=True)
    assert result is not None and not result.failed
    assert server.host_key.get_base64() in known.read_text()
    plan, _ = sync(tmp_path / "src", "web1:/site", tmp_path / "state", inventory)  # now known: no flag needed
    assert not plan.copies


def test_login_failures_and_unknown_hosts(server: SftpTestServer, known_hosts: Path, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    inventory = _inventory(tmp_path, server, known_hosts, password="wrong-password")
    with pytest.raises(OperationFailed, match=f"authentication failed for user {USER}"):
        sync(tmp_path / "src", "web1:/site", tmp_path / "state", inventory)
    with pytest.raises(ConfigError, match="'web9' .* is not a host in the inventory"):
        sync(tmp_path / "src", "web9:/site", tmp_path / "state", inventory)


def test_missing_remote_source_is_a_config_error(server: SftpTestServer, inventory: Inventory, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist on web1"):
        sync("web1:/no/such/dir", tmp_path / "out", tmp_path / "state", inventory)
    assert not (tmp_path / "out").exists()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    endpoint = LocalAwsEndpoint()
    endpoint.start()
    point_at(endpoint, monkeypatch)
    yield client("s3")
    endpoint.stop()


def test_an_ec2_like_host_to_s3(server: SftpTestServer, inventory: Inventory, aws: Any, tmp_path: Path) -> None:
    content = make_tree(server.root / "www", files=6)
    bucket = f"sf-{uuid.uuid4().hex[:10]}"
    aws.create_bucket(Bucket=bucket)
    _, result = sync("web1:/www", f"s3://{bucket}/www", tmp_path / "state", inventory)
    assert result is not None and not result.failed and result.verified == len(content)
    assert objects(aws, bucket, "www/") == content
