"""Direct Connect failover drill: AWS's StartBgpFailoverTest takes the DX BGP sessions down; traffic must move
to the VPN. Timed from AWS's view of the BGP peers (DescribeVirtualInterfaces) and, when the edge is a device
with `bgp.vpn` neighbors, from the device's BGP table. StopBgpFailoverTest ALWAYS runs; should it fail, the
test still ends by itself after `testDurationInMinutes`, which is set just past `--max-duration`.

moto does not implement StartBgpFailoverTest / StopBgpFailoverTest (nor DX BGP peers): the tests drive this
module with botocore's Stubber.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from migrate_cli.aws.session import aws_call
from migrate_cli.core.errors import MigrateError, OperationFailed, SafetyRefusal
from migrate_cli.failover.drill import sigterm_interrupts, uninterruptible
from migrate_cli.failover.model import DxLink, Edge
from migrate_cli.failover.result import DrillOptions, DrillResult, Log

MAX_TEST_MINUTES = 180


def peer_status(client: Any, vif_id: str, peer_ids: tuple[str, ...]) -> dict[str, str]:
    """bgpPeerId -> bgpStatus (up/down/unknown) for the tested peers (all of the VIF's when none named)."""
    response = aws_call(client.describe_virtual_interfaces, virtualInterfaceId=vif_id)
    interfaces = response.get("virtualInterfaces", [])
    if not interfaces:
        raise OperationFailed(f"Direct Connect virtual interface {vif_id} not found")
    peers = interfaces[0].get("bgpPeers", [])
    return {p["bgpPeerId"]: p.get("bgpStatus", "unknown") for p in peers if not peer_ids or p["bgpPeerId"] in peer_ids}


def dx_test_minutes(max_duration: float) -> int:
    """The AWS-side dead man's switch: the test ends by itself one minute after the drill's limit."""
    return max(1, min(MAX_TEST_MINUTES, math.ceil(max_duration / 60) + 1))


def run_dx_drill(
    edge: Edge,
    link: DxLink,
    client: Any,
    options: DrillOptions | None = None,
    log: Log | None = None,
    vpn_established: Callable[[], bool | None] | None = None,
    poll: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> DrillResult:
    """Run the DX BGP failover test on `link`. `vpn_established()` (optional) reads the device: True when the
    edge's VPN BGP sessions are up and its DX sessions down, None when it cannot tell."""
    options = options or DrillOptions()
    log = log or (lambda message, data: None)
    result = DrillResult(
        host=edge.host, link=link.name, mode="dx", watcher="AWS Direct Connect BGP", goal_s=options.goal
    )
    result.secondary = "vpn"
    deadline = clock() + options.max_duration
    settle = options.settle if options.settle is not None else 5.0

    def wait_for(predicate: Callable[[], bool], until: float) -> bool:
        while True:
            if predicate():
                return True
            if clock() >= until:
                return False
            sleep(poll)

    before = peer_status(client, link.virtual_interface_id, link.bgp_peers)
    if not before:
        raise OperationFailed(f"{link.virtual_interface_id} has no BGP peers to test")
    down = sorted(p for p, s in before.items() if s != "up")
    if down:
        raise SafetyRefusal(f"not starting the DX test: BGP peer(s) {', '.join(down)} are already {before[down[0]]}")
    peers = tuple(sorted(before))
    started = stopped = False
    with sigterm_interrupts():
        try:
            minutes = dx_test_minutes(options.max_duration)
            log(
                f"StartBgpFailoverTest on {link.virtual_interface_id} (peers {', '.join(peers)}; "
                f"ends by itself in {minutes} min)",
                {"event": "cut", "link": link.name},
            )
            t_cut = clock()
            response = aws_call(
                client.start_bgp_failover_test,
                virtualInterfaceId=link.virtual_interface_id,
                bgpPeers=list(peers),
                testDurationInMinutes=minutes,
            )
            started = result.cut = True
            test_id = response.get("virtualInterfaceTest", {}).get("testId")
            result.notes.append(f"AWS test id {test_id}")

            def aws_down() -> bool:
                status = peer_status(client, link.virtual_interface_id, peers)
                return all(s == "down" for s in status.values())

            if wait_for(aws_down, deadline):
                result.detect_s = clock() - t_cut
                if vpn_established is not None:
                    if wait_for(lambda: bool(vpn_established()), deadline):
                        result.switch_s = result.traffic_s = clock() - t_cut
                    else:
                        result.notes.append("the device did not show the VPN carrying the routes")
                else:
                    result.switch_s = result.detect_s
                    result.notes.append("no device view of the VPN sessions: timed from AWS's BGP status only")
                log(f"DX BGP down after {result.detect_s:.1f}s", {"event": "failed_over"})
                settle_until = min(deadline, clock() + settle)
                wait_for(lambda: False, settle_until)
            else:
                result.timed_out = True
            t_restore = clock()
            stopped = _stop(client, link, result, log)
            if stopped and not result.timed_out:

                def aws_up() -> bool:
                    status = peer_status(client, link.virtual_interface_id, peers)
                    return all(s == "up" for s in status.values())

                if wait_for(aws_up, deadline):
                    result.failback_detect_s = result.failback_switch_s = clock() - t_restore
                    result.failback_traffic_s = result.failback_switch_s
                else:
                    result.timed_out = True
            if test_id:
                with suppress(MigrateError, Exception):
                    history = aws_call(client.list_virtual_interface_test_history, testId=test_id)
                    records = history.get("virtualInterfaceTestHistory", [])
                    if records:
                        result.notes.append(f"AWS test status: {records[0].get('status')}")
        except KeyboardInterrupt:
            result.interrupted = True
            raise
        except MigrateError as exc:
            result.error = str(exc)
            if not started:
                raise
        except Exception as exc:
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            if started and not stopped:
                with uninterruptible(log):
                    _stop(client, link, result, log)
            for line in result.lines():
                log(line, {"event": "result", **result.facts()})
    return result


def _stop(client: Any, link: DxLink, result: DrillResult, log: Log, attempts: int = 3) -> bool:
    """StopBgpFailoverTest, retried; on failure the result says so loudly (the test still ends by itself)."""
    last = "unknown"
    for _ in range(attempts):
        try:
            aws_call(client.stop_bgp_failover_test, virtualInterfaceId=link.virtual_interface_id)
            result.restored, result.restore_error = True, None
            log(f"StopBgpFailoverTest on {link.virtual_interface_id}: DX BGP sessions restored", {"event": "restore"})
            return True
        except Exception as exc:
            last = str(exc)
    result.restore_error = last
    result.restore_by_hand = (
        f"aws directconnect stop-bgp-failover-test --virtual-interface-id {link.virtual_interface_id} "
        "(the test also ends by itself when its duration runs out)"
    )
    log(f"DRILL COULD NOT STOP the DX test on {link.virtual_interface_id}: {last}", {"event": "restore_failed"})
    return False
