#!/usr/bin/env python3
"""Side-by-side push benchmark: `migrate network push` vs Nornir + nornir-netmiko.

50 lab devices (simulated IOS over real SSH on 127.0.0.1, served by a separate process so their CPU is not
the client's GIL), each needing the same ~30-line change (a Direct Connect sub-interface, eBGP with MD5 and
BFD, the prefix-list and route-maps). Both tools run as the engineer runs them, as a command, with the same
forks:

- migrate: `migrate network push --yes --forks N`: read each running config, plan (hier-config), back up,
  send, re-read and require an empty remediation, verify BGP/BFD (ntc-templates), write memory;
- Nornir: a script doing `netmiko_send_config` + `netmiko_save_config` per device (threaded runner, same
  num_workers) with exactly the lines migrate's plan computes for that device.

Each run gets a fresh fleet (booted from the same config); runs alternate tools; the median of --runs wall
times is compared. Every run is checked: every device must hold the change afterwards.

  .venv/bin/pip install nornir nornir-netmiko          # benchmark tools, not test dependencies
  .venv/bin/python benchmarks/bench_network_push.py                  # 50 devices, forks 10, 3 runs
  .venv/bin/python benchmarks/bench_network_push.py --devices 20 --forks 20 --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PASSWORD = "bench-pw-1234"
SECRETS = {"BENCH_PW": PASSWORD, "BENCH_DX_KEY": "benchK3y.md5"}


def host_data(index: int) -> dict[str, Any]:
    """One device's intent: DX only, distinct addressing per device."""
    return {
        "router_id": f"10.255.{index // 250}.{index % 250 + 1}",
        "direct_connect": {
            "interface": "GigabitEthernet4",
            "vlan": 100 + index,
            "customer_address": f"169.254.{100 + index // 60}.{4 * (index % 60) + 2}/30",
            "amazon_address": f"169.254.{100 + index // 60}.{4 * (index % 60) + 1}/30",
            "amazon_asn": 64512,
            "bgp_auth_key": "${env:BENCH_DX_KEY}",
        },
    }


# -- the fleet, in its own process -------------------------------------------------------------------------


def serve(directory: Path, count: int) -> None:
    """Start `count` devices, write the inventories and the Nornir command file, wait for stdin to close."""
    import yaml

    from migrate_cli.lab.devices import DeviceFleet, DeviceSpec
    from migrate_cli.lab.devices.base_config import lab_initial_config

    data = {f"r{i + 1:02d}": host_data(i) for i in range(count)}
    configs = {name: lab_initial_config(d) for name, d in data.items()}
    fleet = DeviceFleet(
        [DeviceSpec(n, "admin", PASSWORD, initial_config=c) for n, c in configs.items()], directory / "keys"
    )
    fleet.start()
    known = directory / "known_hosts"
    fleet.write_known_hosts(known)
    inv = directory / "inventory"
    inv.mkdir(parents=True, exist_ok=True)
    ports = {name: fleet.devices[name].port for name in data}
    hosts = {n: {"hostname": "127.0.0.1", "port": ports[n], "groups": ["edge"], "data": d} for n, d in data.items()}
    (inv / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    group = {"edge": {"platform": "cisco_ios", "data": {"asn": 65010, "advertise": ["10.10.0.0/16"]}}}
    (inv / "groups.yaml").write_text(yaml.safe_dump(group))
    defaults = {
        "username": "admin",
        "password": "${env:BENCH_PW}",
        "connection_options": {"netmiko": {"extras": {"known_hosts": str(known)}}},
    }
    (inv / "defaults.yaml").write_text(yaml.safe_dump(defaults))
    (directory / "ports.json").write_text(json.dumps(ports))
    print("READY", flush=True)
    sys.stdin.read()
    changed = {n: "router bgp 65010" in fleet.devices[n].running_config() for n in data}
    saved = {n: fleet.devices[n].startup_config() == fleet.devices[n].running_config() for n in data}
    (directory / "result.json").write_text(json.dumps({"changed": changed, "saved": saved}))
    fleet.stop()


def nornir_commands(count: int) -> dict[str, list[str]]:
    """What migrate's plan sends to each freshly booted device (computed offline on the lab's CLI model)."""
    import tempfile

    import yaml

    from migrate_cli.core.inventory import load_inventory
    from migrate_cli.lab.devices import DeviceSpec, DeviceState
    from migrate_cli.lab.devices.base_config import lab_initial_config
    from migrate_cli.network.actions import resolved_intent
    from migrate_cli.network.plan import plan_device
    from migrate_cli.network.render import render

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        inv = Path(tmp)
        data = {f"r{i + 1:02d}": host_data(i) for i in range(count)}
        hosts = {
            n: {"platform": "cisco_ios", "data": {"asn": 65010, "advertise": ["10.10.0.0/16"], **d}}
            for n, d in data.items()
        }
        (inv / "hosts.yaml").write_text(yaml.safe_dump(hosts))
        inventory = load_inventory(inv)
        for name, host in inventory.hosts.items():
            intent = resolved_intent(host, inventory)
            state = DeviceState(DeviceSpec(name, "admin", PASSWORD, initial_config=lab_initial_config(data[name])))
            plan = plan_device(name, "cisco_ios", state.show_running(), render(intent), True)
            out[name] = plan.commands
    return out


def run_nornir(directory: Path, forks: int) -> None:
    """The Nornir side: send_config + save on every device, with `forks` workers."""
    from nornir import InitNornir
    from nornir.core.task import Task
    from nornir_netmiko.tasks import netmiko_save_config, netmiko_send_config

    commands = json.loads((directory / "commands.json").read_text())
    ports = json.loads((directory / "ports.json").read_text())
    hosts = {
        name: {
            "hostname": "127.0.0.1",
            "port": port,
            "username": "admin",
            "password": PASSWORD,
            "platform": "cisco_ios",
            "connection_options": {
                "netmiko": {
                    "extras": {
                        "ssh_strict": True,
                        "system_host_keys": False,
                        "alt_host_keys": True,
                        "alt_key_file": str(directory / "known_hosts"),
                        "allow_agent": False,
                        "use_keys": False,
                    }
                }
            },
        }
        for name, port in ports.items()
    }
    import yaml

    (directory / "nornir_hosts.yaml").write_text(yaml.safe_dump(hosts))
    nr = InitNornir(
        runner={"plugin": "threaded", "options": {"num_workers": forks}},
        inventory={"plugin": "SimpleInventory", "options": {"host_file": str(directory / "nornir_hosts.yaml")}},
        logging={"enabled": False},
    )

    def push(task: Task) -> None:
        task.run(task=netmiko_send_config, config_commands=commands[task.host.name])
        task.run(task=netmiko_save_config)

    result = nr.run(task=push)
    if result.failed:
        raise SystemExit(f"nornir: {len(result.failed_hosts)} host(s) failed: {sorted(result.failed_hosts)[:5]}")


# -- orchestration -------------------------------------------------------------------------------------------


def one_run(tool: str, count: int, forks: int, scratch: Path, commands: dict[str, list[str]]) -> float:
    directory = scratch / f"{tool}-{time.time_ns()}"
    directory.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIGRATE_", "AWS_"))} | SECRETS
    env["PYTHONPATH"] = str(REPO)
    fleet = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(directory), "--devices", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert fleet.stdout is not None and fleet.stdout.readline().strip() == "READY", "fleet did not start"
        (directory / "commands.json").write_text(json.dumps(commands))
        if tool == "migrate":
            argv = [
                sys.executable, "-m", "migrate_cli", "-i", str(directory / "inventory"),
                "--state-dir", str(directory / "state"), "--quiet",
                "network", "push", "--yes", "--forks", str(forks), "--verify-timeout", "10",
            ]  # fmt: skip
        else:
            argv = [sys.executable, __file__, "--nornir", str(directory), "--forks", str(forks)]
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{tool} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    finally:
        if fleet.stdin is not None:
            fleet.stdin.close()
        fleet.wait(timeout=60)
    result = json.loads((directory / "result.json").read_text())
    missing = [n for n, ok in result["changed"].items() if not ok]
    unsaved = [n for n, ok in result["saved"].items() if not ok]
    if missing or unsaved:
        raise SystemExit(f"{tool}: change missing on {missing[:5]}, not saved on {unsaved[:5]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/bench-network-push"))
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--nornir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.devices)
        return
    if args.nornir:
        run_nornir(args.nornir, args.forks)
        return

    os.environ.update(SECRETS)
    commands = nornir_commands(args.devices)
    lines = statistics.median(len(c) for c in commands.values())
    print(f"{args.devices} devices, {lines:g} lines each (hier-config remediation), forks {args.forks}")
    times: dict[str, list[float]] = {"migrate": [], "nornir": []}
    for run in range(args.runs):
        for tool in ("migrate", "nornir"):
            seconds = one_run(tool, args.devices, args.forks, args.scratch, commands)
            times[tool].append(seconds)
            print(f"  run {run + 1}: {tool:<8} {seconds:6.2f} s", flush=True)
    medians = {tool: statistics.median(values) for tool, values in times.items()}
    ratio = medians["migrate"] / medians["nornir"]
    print(f"median migrate {medians['migrate']:.2f} s, nornir {medians['nornir']:.2f} s, ratio {ratio:.2f}x")
    print(json.dumps({"devices": args.devices, "forks": args.forks, "lines": lines, "times": times, "ratio": ratio}))


if __name__ == "__main__":
    main()
