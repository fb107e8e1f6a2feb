"""Direct Connect failover drill (StartBgpFailoverTest / StopBgpFailoverTest).

moto 5.2 implements neither call (nor DX BGP peers), and there is no other local peer for them, so these tests
use botocore's Stubber on a real directconnect client: the requests are validated against the AWS service
model, and the order of calls (Stop ALWAYS after Start) is asserted. A fake clock keeps them instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from migrate_cli.core.errors import SafetyRefusal
from migrate_cli.core.inventory import load_inventory
from migrate_cli.failover.dx import dx_test_minutes, run_dx_drill
from migrate_cli.failover.model import Edge, load_edges
from migrate_cli.failover.result import DrillOptions
from tests.conftest import write

VIF = "dxvif-ffabc123"
PEERS = ["dxpeer-aaaa1111", "dxpeer-bbbb2222"]


def _edge(tmp_path: Path) -> Edge:
    write(
        tmp_path / "inv" / "hosts.yaml",
        f"""
        edge1:
          data:
            uplinks:
              - {{name: isp-a, interface: eth0, source: 198.51.100.2, gateway: 198.51.100.1, priority: 1,
                 targets: [192.0.2.10]}}
            failover:
              dx:
                - {{name: dx-primary, virtual_interface_id: {VIF}, region: us-east-1}}
        """,
    )
    return load_edges(load_inventory(tmp_path / "inv"))[0]


def _vif(status: str) -> dict[str, Any]:
    return {
        "virtualInterfaces": [
            {
                "virtualInterfaceId": VIF,
                "bgpPeers": [{"bgpPeerId": p, "bgpStatus": status, "authKey": "not-logged"} for p in PEERS],
            }
        ]
    }


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


@pytest.fixture
def dx() -> Any:
    return boto3.client(
        "directconnect", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def _start(stub: Stubber, minutes: int) -> None:
    stub.add_response(
        "start_bgp_failover_test",
        {"virtualInterfaceTest": {"testId": "test-1", "virtualInterfaceId": VIF, "status": "in-progress"}},
        {"virtualInterfaceId": VIF, "bgpPeers": PEERS, "testDurationInMinutes": minutes},
    )


def _stop(stub: Stubber) -> None:
    stub.add_response(
        "stop_bgp_failover_test",
        {"virtualInterfaceTest": {"testId": "test-1", "status": "completed"}},
        {"virtualInterfaceId": VIF},
    )


def _describe(stub: Stubber, status: str) -> None:
    stub.add_response("describe_virtual_interfaces", _vif(status), {"virtualInterfaceId": VIF})


def test_dx_drill_times_failover_and_failback(tmp_path: Path, dx: Any) -> None:
    edge = _edge(tmp_path)
    clock = FakeClock()
    lines: list[str] = []
    with Stubber(dx) as stub:
        _describe(stub, "up")
        _start(stub, minutes=2)
        _describe(stub, "up")
        _describe(stub, "down")
        _stop(stub)
        _describe(stub, "down")
        _describe(stub, "up")
        stub.add_response(
            "list_virtual_interface_test_history",
            {"virtualInterfaceTestHistory": [{"testId": "test-1", "status": "completed"}]},
            {"testId": "test-1"},
        )
        result = run_dx_drill(
            edge,
            edge.dx[0],
            dx,
            DrillOptions(max_duration=60, settle=3),
            log=lambda message, data: lines.append(message),
            poll=1.0,
            sleep=clock.sleep,
            clock=clock,
        )
        stub.assert_no_pending_responses()
    assert result.ok and result.verdict == "passed"
    assert (result.detect_s, result.switch_s) == (1.0, 1.0)
    assert result.failback_switch_s == 1.0 and result.restored
    assert "AWS test status: completed" in result.notes
    assert any("no device view of the VPN sessions" in n for n in result.notes)
    assert not any("not-logged" in line for line in lines)


def test_stop_runs_even_on_ctrl_c(tmp_path: Path, dx: Any) -> None:
    edge = _edge(tmp_path)
    clock = FakeClock()

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    with Stubber(dx) as stub:
        _describe(stub, "up")
        _start(stub, minutes=2)
        _describe(stub, "up")
        _stop(stub)
        with pytest.raises(KeyboardInterrupt):
            run_dx_drill(edge, edge.dx[0], dx, DrillOptions(max_duration=60), sleep=interrupt, clock=clock)
        stub.assert_no_pending_responses()


def test_time_limit_stops_the_test(tmp_path: Path, dx: Any) -> None:
    edge = _edge(tmp_path)
    clock = FakeClock()
    with Stubber(dx) as stub:
        _describe(stub, "up")
        _start(stub, minutes=2)
        for _ in range(6):  # polled at t=0..5 while the peers stay up
            _describe(stub, "up")
        _stop(stub)
        result = run_dx_drill(edge, edge.dx[0], dx, DrillOptions(max_duration=5), sleep=clock.sleep, clock=clock)
        stub.assert_no_pending_responses()
    assert result.timed_out and result.restored and result.verdict == "timed out" and not result.ok


def test_a_stop_that_fails_is_loud(tmp_path: Path, dx: Any) -> None:
    edge = _edge(tmp_path)
    clock = FakeClock()
    with Stubber(dx) as stub:
        _describe(stub, "up")
        _start(stub, minutes=2)
        _describe(stub, "down")
        for _ in range(6):  # three attempts in the drill, three more in its safety net
            stub.add_client_error("stop_bgp_failover_test", "DirectConnectServerException", "service unavailable")
        result = run_dx_drill(
            edge, edge.dx[0], dx, DrillOptions(max_duration=60, settle=0), sleep=clock.sleep, clock=clock
        )
        stub.assert_no_pending_responses()
    assert result.verdict == "NOT RESTORED" and not result.restored
    assert "service unavailable" in (result.restore_error or "")
    text = "\n".join(result.lines())
    assert "DRILL COULD NOT RESTORE dx-primary ON edge1" in text and "stop-bgp-failover-test" in text


def test_refuses_when_a_peer_is_already_down(tmp_path: Path, dx: Any) -> None:
    edge = _edge(tmp_path)
    with Stubber(dx) as stub:
        stub.add_response(
            "describe_virtual_interfaces",
            {"virtualInterfaces": [{"bgpPeers": [{"bgpPeerId": PEERS[0], "bgpStatus": "down"}]}]},
            {"virtualInterfaceId": VIF},
        )
        with pytest.raises(SafetyRefusal, match="already down"):
            run_dx_drill(edge, edge.dx[0], dx)
        stub.assert_no_pending_responses()


def test_the_aws_side_ends_the_test_by_itself_just_after_the_limit() -> None:
    assert dx_test_minutes(60) == 2 and dx_test_minutes(5) == 2 and dx_test_minutes(10**6) == 180
