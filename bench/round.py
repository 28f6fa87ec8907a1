"""One full round over a lab of N RSEs: lakeprobe's site suite against the peers' way of doing the same
operations, one gfal-* process per operation, one after the other. Both times and the ratio, from one run.

Operations, per RSE x protocol: connection (stat of the root), mkdir, upload with adler32, stat, checksum,
download, list, delete, stat after delete; per ordered pair: davs pull, davs push and root:// TPC, each with
the destination's checksum and a delete; plus placing and removing the copy sources.
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
from lakeprobe.records import read_jsonl
from lakeprobe.tokens import TokenProvider

REPO = Path(__file__).resolve().parent.parent


def lakeprobe_round(inventory: Path, env: dict, workers: int) -> tuple[float, Counter]:
    results = Path(tempfile.mkdtemp(prefix="lakeprobe-bench-"))
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites/site",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            str(workers),
            "--inventory",
            str(inventory),
            "--results-dir",
            str(results),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    seconds = time.monotonic() - started
    return seconds, Counter(r.status for f in results.glob("*.jsonl") for r in read_jsonl(f))


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


def main(rses: int, workers: int, base_port: int = 25000):
    from lab.layout import Layout, default_run_dir

    lab = Lab(Layout.from_env(run_dir=str(default_run_dir()) + "-bench", base_port=base_port))
    print(f"bench round: starting a lab of {rses} RSEs ...", flush=True)
    lab.up(rses)
    try:
        inventory = load_yaml(lab.layout.inventory)
        env = {k: v for k, v in os.environ.items() if k != "BEARER_TOKEN"}
        # The baseline gets the same trust settings lakeprobe makes for itself (lakeprobe/trust.py): only
        # the lab CA, so that its davix does not parse the system's CA bundle on every request.
        env.update(
            X509_CERT_DIR=str(lab.layout.ca_dir),
            SSL_CERT_DIR=str(lab.layout.ca_dir),
            SSL_CERT_FILE=str(lab.layout.pki / "ca.pem"),
            GFAL_PYTHONBIN="/usr/bin/python3",
        )
        ours, statuses = lakeprobe_round(lab.layout.inventory, env, workers)
        print(
            f"lakeprobe: {sum(statuses.values())} checks ({dict(statuses)}) in {ours:.1f} s with -n {workers}",
            flush=True,
        )
        token = TokenProvider.for_lake(inventory).token("probe")
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "probe.dat"
            local.write_bytes(os.urandom(1024 * 1024))
            baseline = GfalBaseline({**env, "BEARER_TOKEN": token}, local)
            theirs = baseline.round(list(inventory.rses.values()))
        print(
            f"gfal-* baseline: {baseline.commands} commands ({baseline.failures} unexpected outcomes) "
            f"in {theirs:.1f} s, sequential"
        )
        print(
            f"round over {rses} RSEs: lakeprobe {ours:.1f} s, baseline {theirs:.1f} s, "
            f"lakeprobe is {theirs / ours:.1f}x faster"
        )
    finally:
        lab.down()
