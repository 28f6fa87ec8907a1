"""Sink throughput and the records plugin's cost, measured in one run (targets: 50,000 records/s to InfluxDB,
under 1 ms per check).

- throughput: N records written in batches to a real InfluxDB 1.6 (the bench lab's, .lab-bench/), through the
  v1 sink, then counted back with InfluxQL; and the same N to PostgreSQL with the SQL sink, for comparison.
- overhead per check: the same N trivial checks run by pytest with lakeprobe's plugins (one record each, to
  the JSONL) and without them (a stand-in `record` fixture); the difference divided by N.
"""

import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import requests

from lab.influxdb import InfluxDB
from lab.layout import Layout, default_run_dir
from lab.postgres import Postgres
from lakeprobe.records import Record
from lakeprobe.sinks import InfluxV1, SinkSpec, SqlWriter

REPO = Path(__file__).resolve().parent.parent
CHECKS = 2000

TRIVIAL_CHECKS = textwrap.dedent("""
    import pytest

    @pytest.mark.parametrize("n", range({n}))
    def test_trivial(record, n):
        record.rse = "XRD1"
""")
STAND_IN = textwrap.dedent("""
    import pytest

    @pytest.fixture
    def record():
        return type("Record", (), {})()
""")


def _records(n: int, run_id: str) -> list[Record]:
    now = time.time()
    return [
        Record(
            run_id=run_id,
            suite="bench",
            check=f"check{i % 50}",
            rse=f"RSE{i // 50 % 100}",
            protocol="davs",
            duration_s=0.01,
            ts=now - i * 1e-3,
        )
        for i in range(n)
    ]


def throughput(n: int) -> None:
    layout = Layout.from_env(run_dir=str(default_run_dir()) + "-bench", base_port=25000)
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    influx, postgres = InfluxDB(layout), Postgres(layout)
    try:
        influx.start()
        postgres.start()
        run_id = f"bench-{uuid.uuid4().hex[:8]}"
        records = _records(n, run_id)
        started = time.monotonic()
        InfluxV1(SinkSpec("influxdb-v1", layout.influxdb_url, database="lakeprobe")).write(records)
        influx_s = time.monotonic() - started
        reply = requests.get(
            f"{layout.influxdb_url}/query",
            timeout=60,
            params={"db": "lakeprobe", "q": f"SELECT count(duration_s) FROM lakeprobe_check WHERE run_id = '{run_id}'"},
        )
        counted = reply.json()["results"][0]["series"][0]["values"][0][1]
        started = time.monotonic()
        SqlWriter(SinkSpec("sql", layout.postgres_url.replace("lakeprobe@", "postgres@"))).write(records)
        sql_s = time.monotonic() - started
    finally:
        influx.stop()
        postgres.stop()
    print(
        f"InfluxDB v1 sink: {n} records in {influx_s:.2f} s = {n / influx_s:,.0f} records/s "
        f"({counted} counted back; target 50,000/s: {n / influx_s / 50000:.1f}x)"
    )
    print(f"PostgreSQL sink:  {n} records in {sql_s:.2f} s = {n / sql_s:,.0f} records/s")


def _pytest_seconds(directory: Path, *args: str) -> float:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(directory), "-q", "-p", "no:cacheprovider", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stdout[-2000:]
    return time.monotonic() - started


def overhead(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bare, with_plugins = Path(tmp, "bare"), Path(tmp, "lakeprobe")
        for d in (bare, with_plugins):
            d.mkdir()
            (d / "test_trivial.py").write_text(TRIVIAL_CHECKS.format(n=n))
        (bare / "conftest.py").write_text(STAND_IN)
        (with_plugins / "conftest.py").write_text("pytest_plugins = ['plugins.records']\n")
        bare_s = _pytest_seconds(bare)
        plugin_s = _pytest_seconds(with_plugins, "--results-dir", str(Path(tmp, "results")))
    per_check_ms = (plugin_s - bare_s) / n * 1000
    print(
        f"records plugin: {n} checks in {plugin_s:.2f} s, without it {bare_s:.2f} s: "
        f"{per_check_ms:.3f} ms per check (target under 1 ms)"
    )


def main(n: int = 100_000):
    throughput(n)
    overhead(CHECKS)
