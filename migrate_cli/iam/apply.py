"""Make the planned IAM calls, in order; write a new access key to a 0600 file, never to output."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from migrate_cli.aws.session import client
from migrate_cli.core.errors import MigrateError, OperationFailed, SafetyRefusal
from migrate_cli.core.secrets import register_secret
from migrate_cli.iam.calls import call, call_retrying_new_principal
from migrate_cli.iam.ops import CREATE_ACCESS_KEY
from migrate_cli.iam.planner import IamPlan

Progress = Callable[[str], None]


def apply_plan(plan: IamPlan, progress: Progress | None = None) -> dict[str, Any]:
    """Run every op of `plan`; returns {"applied": [lines], "access_key_id", "access_key_file"}.

    Refuses (SafetyRefusal) a plan with conflicts. A failure part-way raises OperationFailed saying how
    many changes were made; apply again to finish (the plan is recomputed from what exists).
    """
    if plan.conflicts:
        raise SafetyRefusal("IAM apply refused: " + "; ".join(plan.conflicts))
    iam = client("iam", plan.session, region_name=plan.target.region)
    applied: list[str] = []
    result: dict[str, Any] = {"applied": applied}
    for index, op in enumerate(plan.ops):
        try:
            if op.call == CREATE_ACCESS_KEY:
                assert plan.key_file is not None
                result |= create_access_key(iam, op.kwargs["UserName"], plan.key_file)
            elif op.new_principal_retry:
                call_retrying_new_principal(getattr(iam, op.call), **op.kwargs)
            else:
                call(getattr(iam, op.call), **op.kwargs)
        except MigrateError as exc:
            done = f"{index} of {len(plan.ops)} changes were made before it; run apply again to finish"
            raise type(exc)(f"{op.line()}: {exc} ({done})") from exc
        applied.append(op.line())
        if progress is not None:
            progress(op.line())
    return result


def create_access_key(iam: Any, user: str, path: Path) -> dict[str, Any]:
    """Create an access key for `user` and write it as an AWS credentials file (mode 0600) at `path`."""
    key = call(iam.create_access_key, UserName=user)["AccessKey"]
    secret = key["SecretAccessKey"]
    register_secret(secret)  # masked from here on, wherever it might end up
    created = time.strftime("%Y-%m-%d %H:%M:%S")
    text = (
        f"# AWS credentials of IAM user {user}, created by `migrate iam apply` on {created}.\n"
        f"# Use: AWS_SHARED_CREDENTIALS_FILE={path} AWS_PROFILE={user}, then assume a migrate-cli runner role.\n"
        f"[{user}]\naws_access_key_id = {key['AccessKeyId']}\naws_secret_access_key = {secret}\n"
    )
    try:
        write_private(path, text)
    except OSError as exc:
        raise OperationFailed(
            f"access key {key['AccessKeyId']} was created but {path} could not be written ({exc.strerror}): "
            f"delete the key in IAM and apply again"
        ) from exc
    return {"access_key_id": key["AccessKeyId"], "access_key_file": str(path)}


def write_private(path: Path, text: str) -> None:
    """Write `text` so that only the owner can read it, at no moment readable by others (temp + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
