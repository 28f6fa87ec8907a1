"""Rounds over labs of growing size, and lakeprobe against the peers' way of doing the same operations.

- growth: one healthy round of the site suite at each lab size (default 5, 10, 20 and 40 RSEs), with every
  ordered pair copying (`--tpc-pairs all`) and with the hour's rotation (`rotate`): time, checks, and the
  count of records that did not pass (on a healthy lab, 0).
- baseline, at one size (default 10): the same operations as one gfal-* process per operation, one after the
  other; both times and the ratio, from one run. Operations, per RSE x protocol: connection (stat of the
  root), mkdir, upload with adler32, stat, checksum, download, list, delete, stat after delete; per ordered
  pair: davs pull, davs push and root:// TPC, each with the destination's checksum and a delete; plus placing
  and removing the copy sources.
"""

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from lab.lab import Lab
from lakeprobe.checksums import of_bytes
from lakeprobe.inventory import load_yaml
from lakeprobe.records import Record, read_jsonl
from lakeprobe.tokens import TokenProvider

REPO = Path(__file__).resolve().parent.parent


def lakeprobe_round(
    inventory: Path, env: dict, workers: int | str, *extra: str, suite: str = "suites/site"
) -> tuple[float, list[Record]]:
    results = Path(tempfile.mkdtemp(prefix="lakeprobe-bench-"))
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            suite,
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            str(workers),
            "--inventory",
            str(inventory),
            "--results-dir",
            str(results),
            *extra,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    seconds = time.monotonic() - started
    return seconds, [r for f in sorted(results.glob("*.jsonl")) for r in read_jsonl(f)]


class GfalBaseline:
    """The same operations as gfal-* commands, sequentially; counts commands and unexpected outcomes."""

    def __init__(self, env: dict, local: Path):
        self.env, self.local = env, local
        self.adler32 = of_bytes(local.read_bytes()).value
        self.commands, self.failures = 0, 0

    def gfal(self, *args, expect_ok=True) -> str:
        self.commands += 1
        proc = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=300)
        if (proc.returncode == 0) != expect_ok:
            self.failures += 1
        return proc.stdout

    def chain(self, rse, protocol: str, run: str):
        directory = rse.url(protocol, f"{rse.prefix}/{run}/{protocol}")
        file_url = f"{directory}/probe.dat"
        back = self.local.with_suffix(".back")
        self.gfal("gfal-stat", rse.url(protocol, "/"))
        self.gfal("gfal-mkdir", "-p", directory)
        self.gfal("gfal-copy", "-f", "-K", f"ADLER32:{self.adler32}", f"file://{self.local}", file_url)
        self.gfal("gfal-stat", file_url)
        if self.gfal("gfal-sum", file_url, "ADLER32").split()[-1:] != [self.adler32]:
            self.failures += 1
        self.gfal("gfal-copy", "-f", file_url, f"file://{back}")
        if back.read_bytes() != self.local.read_bytes():
            self.failures += 1
        self.gfal("gfal-ls", directory)
        self.gfal("gfal-rm", file_url)
        self.gfal("gfal-stat", file_url, expect_ok=False)

    def copy(self, source: str, destination: str, mode: str):
        mode_args = ["--copy-mode", mode] if mode in ("pull", "push") else []
        self.gfal("gfal-copy", "-p", "-f", *mode_args, "-K", "ADLER32", source, destination)
        if self.gfal("gfal-sum", destination, "ADLER32").split()[-1:] != [self.adler32]:
            self.failures += 1
        self.gfal("gfal-rm", destination)

    def round(self, rses: list) -> float:
        run = f"bench-{uuid.uuid4().hex[:8]}"
        started = time.monotonic()
        for rse in rses:
            for protocol in rse.protocols:
                self.chain(rse, protocol, run)
        sources = {}
        for rse in rses:
            for protocol in rse.protocols:
                sources[rse.name, protocol] = rse.url(protocol, f"{rse.prefix}/{run}/tpc/source.dat")
                self.gfal("gfal-copy", "-p", "-f", "-K", "ADLER32", f"file://{self.local}", sources[rse.name, protocol])
        for a in rses:
            for b in rses:
                if a is b:
                    continue
                for protocol, mode in (("davs", "pull"), ("davs", "push"), ("root", "tpc")):
                    self.copy(
                        sources[a.name, protocol],
                        b.url(protocol, f"{b.prefix}/{run}/tpc/from-{a.name}-{mode}.dat"),
                        mode,
                    )
        for rse in rses:
            self.gfal("gfal-rm", "-r", rse.url("davs", f"{rse.prefix}/{run}"))
        return time.monotonic() - started


def bench_lab(base_port: int = 25000) -> Lab:
    from lab.layout import Layout, default_run_dir

    return Lab(Layout.from_env(run_dir=str(default_run_dir()) + "-bench", base_port=base_port))


def client_env(lab: Lab) -> dict:
    """The environment of a user's shell for the bench lab, with the trust settings lakeprobe makes for itself
    (lakeprobe/trust.py): only the lab CA, so that gfal2's davix does not parse the system's CA bundle on
    every request."""
    env = {k: v for k, v in os.environ.items() if k not in ("BEARER_TOKEN", "LAKEPROBE_LAB_DIR")}
    env.update(
        X509_CERT_DIR=str(lab.layout.ca_dir),
        SSL_CERT_DIR=str(lab.layout.ca_dir),
        SSL_CERT_FILE=str(lab.layout.pki / "ca.pem"),
        GFAL_PYTHONBIN="/usr/bin/python3",
    )
    return env


def main(sizes: list[int], workers: str, baseline_at: int):
    lab = bench_lab()
    print(f"{'RSEs':>4} {'pairs':<7} {'checks':>6} {'not pass':>8} {'time':>8}", flush=True)
    try:
        for size in sorted(set(sizes) | {baseline_at}):
            lab.up(size)
            env = client_env(lab)
            for pairs in ("all", "rotate"):
                if size not in sizes:
                    break
                seconds, records = lakeprobe_round(lab.layout.inventory, env, workers, "--tpc-pairs", pairs)
                failing = Counter(f"{r.check} {r.status} {r.error_class}" for r in records if r.status != "pass")
                print(
                    f"{size:>4} {pairs:<7} {len(records):>6} {failing.total():>8} {seconds:>7.1f}s"
                    + (f"  ({', '.join(f'{n} {what}' for what, n in failing.items())})" if failing else ""),
                    flush=True,
                )
            if size == baseline_at:
                baseline(lab, env, workers)
    finally:
        lab.down()


def baseline(lab: Lab, env: dict, workers: str):
    inventory = load_yaml(lab.layout.inventory)
    ours, records = lakeprobe_round(lab.layout.inventory, env, workers)
    token = TokenProvider.for_lake(inventory).token("probe")
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "probe.dat"
        local.write_bytes(os.urandom(1024 * 1024))
        gfal = GfalBaseline({**env, "BEARER_TOKEN": token}, local)
        theirs = gfal.round(list(inventory.rses.values()))
    print(
        f"baseline at {len(inventory.rses)} RSEs: lakeprobe {len(records)} checks in {ours:.1f} s "
        f"(-n {workers}); {gfal.commands} gfal-* commands ({gfal.failures} unexpected outcomes) in {theirs:.1f} s, "
        f"sequential: lakeprobe is {theirs / ours:.1f}x faster",
        flush=True,
    )
