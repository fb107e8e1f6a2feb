"""Transfer state: the manifest survives in batches, uploads are journalled, one copy per pair at a time."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from migrate_cli.core.errors import SafetyRefusal
from migrate_cli.transfer.location import parse_location
from migrate_cli.transfer.sources import PartDone
from migrate_cli.transfer.state import TransferState, state_path, transfer_lock
from tests.conftest import REPO

SRC, DST = parse_location("/srv/site"), parse_location("s3://bkt-1/site")


def test_manifest_rows_are_batched_and_flushed_on_close(tmp_path: Path) -> None:
    path = state_path(tmp_path, SRC, DST)
    state = TransferState(path, SRC, DST)
    for i in range(300):
        state.record(f"k{i}", f"{i}:1", f"{i}:e")
    assert len(TransferState(path, SRC, DST, readonly=True).manifest()) >= 256  # first batch already on disk
    state.close()
    again = TransferState(path, SRC, DST, readonly=True)
    assert again.manifest()["k299"] == ("299:1", "299:e")
    state = TransferState(path, SRC, DST)
    state.forget_objects(["k1", "k2"])
    assert "k1" not in state.manifest() and len(state.manifest()) == 298
    state.close()


def test_readonly_state_of_a_new_pair_creates_nothing(tmp_path: Path) -> None:
    path = state_path(tmp_path, SRC, DST)
    assert TransferState(path, SRC, DST, readonly=True).manifest() == {}
    assert not path.exists() and not (tmp_path / "transfer").exists()


def test_upload_journal_intent_id_parts(tmp_path: Path) -> None:
    state = TransferState(state_path(tmp_path, SRC, DST), SRC, DST)
    state.intend("big.bin", "10:5", 5)
    record = state.upload("big.bin")
    assert record is not None and record.upload_id == "" and record.src_sig == "10:5"
    state.started("big.bin", "up-1")
    state.part_done("big.bin", PartDone(1, 5, b"\x01" * 32, b"\x02" * 16, "e1"))
    assert state.upload("big.bin").upload_id == "up-1"  # type: ignore[union-attr]
    assert state.parts("big.bin")[1] == PartDone(1, 5, b"\x01" * 32, b"\x02" * 16, "e1")
    state.forget_upload("big.bin")
    assert state.uploads() == [] and state.parts("big.bin") == {}
    state.close()


def test_lock_is_reentrant_in_process_and_exclusive_across_processes(tmp_path: Path) -> None:
    with transfer_lock(tmp_path, SRC, DST), transfer_lock(tmp_path, SRC, DST):
        pass
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from migrate_cli.transfer.location import parse_location as p\n"
            "from migrate_cli.transfer.state import transfer_lock\n"
            f"with transfer_lock(Path({str(tmp_path)!r}), p('/srv/site'), p('s3://bkt-1/site')):\n"
            "    print('held', flush=True); time.sleep(30)\n",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(SafetyRefusal, match=f"pid {holder.pid}"), transfer_lock(tmp_path, SRC, DST):
            pass
        with transfer_lock(tmp_path, SRC, parse_location("s3://bkt-1/other")):
            pass  # another pair is not blocked
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.05)
    with transfer_lock(tmp_path, SRC, DST):  # the kernel dropped the dead holder's lock
        pass
