"""Records reach InfluxDB and PostgreSQL exactly as the JSONL has them; a sink that is down loses nothing and
a replay delivers once. Real servers of the test lab, runs as a user would start them."""

import json
import time

import psycopg
import pytest
import requests

from lakeprobe.records import read_jsonl
from lakeprobe.sinks import SinkSpec, Spool
from tests.helpers import lakeprobe_cli

pytestmark = pytest.mark.lab

ONE_RSE = ("--rse", "XRD1", "--tpc-peer", "XRD2", "--protocol", "davs")


def influx_records(lab, run_id) -> list[dict]:
    reply = requests.get(
        f"{lab.layout.influxdb_url}/query",
        timeout=10,
        params={"db": "lakeprobe", "q": f"SELECT * FROM lakeprobe_check WHERE run_id = '{run_id}'"},
    ).json()
    series = reply["results"][0].get("series", [])
    return [dict(zip(s["columns"], values)) for s in series for values in s["values"]]


def sql_records(lab, run_id) -> list[dict]:
    with psycopg.connect(f"host=127.0.0.1 port={lab.layout.port('postgres')} user=postgres dbname=lakeprobe") as db:
        cursor = db.execute("SELECT * FROM lakeprobe_check WHERE run_id = %s", (run_id,))
        return [dict(zip([c.name for c in cursor.description], row)) for row in cursor.fetchall()]


def _identity(r: dict) -> tuple:
    return tuple((r.get(k) or "") for k in ("check", "rse", "protocol", "peer", "mode", "status", "error_class"))


def test_a_run_fills_influxdb_and_sql_with_exactly_its_jsonl(lab, run_suite):
    proc, records, _ = run_suite(*ONE_RSE)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert proc.stdout.count(f"lakeprobe: {len(records)} records written") == 2  # both sinks say so
    jsonl = sorted(_identity(r.to_dict()) for r in records)
    assert sorted(map(_identity, influx_records(lab, records[0].run_id))) == jsonl
    in_sql = sql_records(lab, records[0].run_id)
    assert sorted(map(_identity, in_sql)) == jsonl
    assert {r["key"] for r in in_sql} == {r.key for r in records}


def test_with_influxdb_down_nothing_is_lost_and_replay_delivers_once(lab, lab_env, run_suite, tmp_path):
    lab.stop_service("influxdb")
    try:
        proc, records, _ = run_suite(*ONE_RSE, results=tmp_path)
    finally:
        lab.influxdb.start()
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert f"{len(records)} spooled for `lakeprobe results replay`" in proc.stdout
    assert len(sql_records(lab, records[0].run_id)) == len(records)  # the other sink is not held up
    assert influx_records(lab, records[0].run_id) == []

    replay = lakeprobe_cli("results", "replay", "--results-dir", str(tmp_path), env=lab_env)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert f"{len(records)} of {len(records)} spooled records delivered" in replay.stdout
    again = lakeprobe_cli("results", "replay", "--results-dir", str(tmp_path), env=lab_env)
    assert again.returncode == 0 and "nothing spooled" in again.stdout
    delivered = influx_records(lab, records[0].run_id)
    assert sorted(map(_identity, delivered)) == sorted(_identity(r.to_dict()) for r in records)

    # Delivering the same records again (a replay after a partial write) stores nothing twice. (They go where
    # the run spooled them: a spool is found by its sink's slug.)
    spec = SinkSpec(**json.loads(next((tmp_path / "spool").glob("influxdb-v1-*/sink.json")).read_text()))
    Spool(tmp_path, spec).keep(records)
    twice = lakeprobe_cli("results", "replay", "--results-dir", str(tmp_path), env=lab_env)
    assert twice.returncode == 0 and f"{len(records)} of {len(records)} spooled records delivered" in twice.stdout
    assert len(influx_records(lab, records[0].run_id)) == len(records)


def test_a_sink_url_with_a_password_is_one_line_refused(run_suite):
    proc, records, _ = run_suite(*ONE_RSE, "--influxdb", "http://me:secret@127.0.0.1:1", "--influxdb-database", "x")
    assert proc.returncode != 0 and records == []
    assert "must not carry credentials" in proc.stderr and "Traceback" not in proc.stderr
    assert "secret" not in proc.stdout + proc.stderr


def test_records_in_the_spool_are_those_of_the_jsonl(tmp_path):
    """The spool format is the JSONL format: a spooled file reads back as the same records."""
    from lakeprobe.records import Record

    records = [Record(run_id="r", suite="site", check="upload", rse="XRD1", message='say "hi"\nthere')]
    spool = Spool(tmp_path, SinkSpec("influxdb-v1", "http://127.0.0.1:1", database="x"))
    spool.keep(records)
    assert read_jsonl(spool.files()[0]) == records
    assert json.loads((spool.dir / "sink.json").read_text())["url"] == "http://127.0.0.1:1"


def test_the_v2_write_api_sink_delivers_every_record(victoria_metrics, run_suite):
    proc, records, _ = run_suite(
        *ONE_RSE, "--influxdb", victoria_metrics, "--influxdb-bucket", "lakeprobe", "--influxdb-org", "lab"
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert f"influxdb-v2 {victoria_metrics} lakeprobe: {len(records)} records written" in proc.stdout
    for _ in range(40):  # VictoriaMetrics makes fresh samples searchable within a few seconds
        requests.get(f"{victoria_metrics}/internal/force_flush", timeout=10)
        exported = requests.get(
            f"{victoria_metrics}/api/v1/export",
            timeout=10,
            params={"match[]": '{__name__="lakeprobe_check_duration_s"}'},
        ).text.splitlines()
        series = {
            (s["metric"]["check"], s["metric"]["rse"], s["metric"].get("peer", "")): len(s["values"])
            for s in map(json.loads, exported)
        }
        if sum(series.values()) >= len(records):
            break
        time.sleep(0.5)
    assert sum(series.values()) == len(records)
    assert set(series) == {(r.check, r.rse, r.peer) for r in records}
