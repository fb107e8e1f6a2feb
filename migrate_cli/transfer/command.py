"""`migrate data copy` as a one-step playbook run (core/oneshot): validated and opened first (bad input exits
2 having written nothing), the pair's lock taken (exit 3 when held), then planned and applied by the playbook
runner, so the run is journalled and `migrate report` shows what moved, as for a `data.copy` playbook step."""

from __future__ import annotations

from migrate_cli.core.oneshot import run_action
from migrate_cli.core.settings import Settings
from migrate_cli.transfer.actions import CopyObserver, CopyParams, DataCopyAction
from migrate_cli.transfer.engine import EngineResult, Progress
from migrate_cli.transfer.plan import SyncPlan
from migrate_cli.transfer.service import CopyReport, CopyRequest, ValidCopy, inventory_for, open_endpoints, validate
from migrate_cli.transfer.state import transfer_lock


class _Recorder:
    """Keeps the plan and result for the report while passing them on to the front end."""

    def __init__(self, report: CopyReport, observer: CopyObserver) -> None:
        self.report = report
        self.observer = observer

    def planned(self, plan: SyncPlan, valid: ValidCopy, check: bool) -> None:
        self.report.plan = plan
        self.observer.planned(plan, valid, check)

    def progress(self) -> Progress | None:
        return self.observer.progress()

    def finished(self, result: EngineResult) -> None:
        self.report.result = result
        self.observer.finished(result)


def run_copy(settings: Settings, request: CopyRequest, check: bool, observer: CopyObserver) -> CopyReport:
    """Validate, open, then plan (and unless `check`, apply) through the runner. Returns what happened."""
    valid = validate(request)
    inventory = inventory_for(valid, settings)
    endpoints = open_endpoints(valid, inventory)
    report = CopyReport(valid)
    try:
        bound = type(
            "BoundDataCopyAction",
            (DataCopyAction,),
            {"prepared": endpoints, "observer": _Recorder(report, observer)},
        )
        params = CopyParams.from_request(request)
        name = f"copy {valid.source.url} -> {valid.dest.url}"
        run = run_action(
            settings,
            bound,
            params,
            title=f"data {name}",
            step_name=name,
            check=check,
            yes=True,
            inventory=inventory,
            guard=None if check else transfer_lock(settings.state_dir, valid.source, valid.dest),
            source="(migrate data copy)",
        )
    finally:
        endpoints.close()
    report.run_id = run.result.run_id
    report.status = run.result.status
    report.exit_code = run.exit_code
    if run.host is not None and run.host.error:
        report.error = run.host.error
    return report
