"""The Grafana dashboards (ci/grafana/) are valid provisioning JSON, their queries run on the real stores the
sinks fill and name only what the sinks write, and no data, skip and downtime are grey, never red or green.
The availability/reliability panels give, on an hourly history written through the real sinks, the figures
computed by hand. (Grafana itself cannot run here: the panels' rendering is not tested.)"""

import json
import re
import time
import uuid

import psycopg
import pytest
import requests
import yaml

from lakeprobe import availability, schema
from lakeprobe.records import Record
from lakeprobe.sinks import InfluxV1, SinkSpec, SqlWriter
from tests.helpers import REPO

pytestmark = pytest.mark.lab

DASHBOARDS = sorted((REPO / "ci" / "grafana" / "dashboards").glob("*.json"))
RED, GREEN = "#d0312d", "#2e9e44"
VARIABLES = {"$rse": "XRD1", "$protocol": "davs", "$mode": "pull"}


def _queries(dashboard: dict, ar: bool = False) -> list[str]:
    """The queries of the panels (with ar, only those of the availability panel: they need rounds) and of
    the variables."""
    panels = [p for p in dashboard["panels"] if p["title"].startswith("Availability") == ar]
    targets = [t for p in panels for t in p["targets"]]
    variables = [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"] if not ar else []
    return [t.get("query") or t["rawSql"] for t in targets] + variables


def test_dashboards_are_provisioned_with_the_datasources_they_name():
    provisioned = yaml.safe_load((REPO / "ci/grafana/provisioning/datasources/lakeprobe.yaml").read_text())
    uids = {d["uid"]: d["type"] for d in provisioned["datasources"]}
    assert len(DASHBOARDS) == 2
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
        titles = " ".join(p["title"] for p in dashboard["panels"])
        words = ("RSE x check", "History", "Third-party copy", "Throughput", "Availability / reliability", "Rucio")
        words += ("forced to IPv4", "forced to IPv6")  # the chains of --per-address
        assert all(word in titles for word in words)
        for panel in dashboard["panels"]:
            assert uids[panel["datasource"]["uid"]] == panel["datasource"]["type"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_neutral_states_and_no_data_are_grey_never_red_or_green(path):
    dashboard = json.loads(path.read_text())
    for panel in dashboard["panels"]:
        defaults = panel["fieldConfig"]["defaults"]
        if "mappings" not in defaults:
            continue
        values = defaults["mappings"][0]["options"]
        neutral = [
            values[str(schema.STATE["skip"])],
            values[str(schema.STATE["downtime"])],
            defaults["mappings"][1]["options"]["result"],
        ]
        assert all(m["color"] not in (RED, GREEN) for m in neutral)
        assert defaults["noValue"] == "no data" and defaults["color"]["fixedColor"] not in (RED, GREEN)
        assert {int(k): v["text"] for k, v in values.items()} == {n: s for s, n in schema.STATE.items()}


def _fill(run_suite, dual_stack_lake):
    """A round of each suite on one RSE and protocol (the site suite's with --per-address, at a host with
    both families): every panel has something to show."""
    # Not rucio_deletion: it judges what other modules' runs on this lab left to the reaper, which a module
    # run before this one may have stopped or faulted (its own tests are tests/test_rucio_suite.py's).
    rucio = ("-k", "not rucio_deletion")
    for suite, more in (("suites/site", ("--inventory", dual_stack_lake, "--per-address")), ("suites/rucio", rucio)):
        proc, _, _ = run_suite("--rse", "XRD1", "--tpc-peer", "XRD2", "--protocol", "davs", *more, suite=suite)
        assert proc.returncode == 0, proc.stdout[-2000:]


def test_influxql_queries_run_on_the_lab_and_name_only_what_the_sink_writes(lab, run_suite, dual_stack_lake):
    _fill(run_suite, dual_stack_lake)
    dashboard = json.loads((REPO / "ci/grafana/dashboards/lakeprobe-influxdb.json").read_text())
    known = set(schema.TAGS) | set(schema.FIELDS) | {schema.MEASUREMENT, "state"}
    for query in _queries(dashboard, ar=True):
        assert set(re.findall(r'"([^"]+)"', query)) <= known, query
    for query in _queries(dashboard):
        assert set(re.findall(r'"([^"]+)"', query)) <= known, query
        sql = query.replace("$timeFilter", "time > now() - 1h").replace("$__interval", "1m")
        for variable, value in VARIABLES.items():
            sql = sql.replace(variable, value)
        reply = requests.get(f"{lab.layout.influxdb_url}/query", params={"db": "lakeprobe", "q": sql}, timeout=10)
        result = reply.json()["results"][0]
        assert "error" not in result and result.get("series"), (query, result)


def test_sql_queries_run_on_the_lab_and_name_only_what_the_sink_writes(lab, run_suite, dual_stack_lake):
    _fill(run_suite, dual_stack_lake)
    dashboard = json.loads((REPO / "ci/grafana/dashboards/lakeprobe-postgres.json").read_text())
    macros = {
        r"\$__timeFilter\((\w+)\)": r"\1 > now() - interval '1 hour'",
        r"\$__timeGroupAlias\((\w+), [^)]+\)": r"date_trunc('minute', \1) AS time",
    }
    with psycopg.connect(f"host=127.0.0.1 port={lab.layout.port('postgres')} user=postgres dbname=lakeprobe") as db:
        for query in _queries(dashboard):
            sql = query.replace("$__interval", "1m")
            for pattern, replacement in macros.items():
                sql = re.sub(pattern, replacement, sql)
            for variable, value in VARIABLES.items():
                sql = sql.replace(variable, value)
            rows = db.execute(sql).fetchall()  # a column the sink does not write is an error here
            assert rows, query


H = 3600


def _hourly_history(rse: str, lake: str) -> tuple[list[Record], float]:
    """Rounds at 10 past the hour, starting 9 hours ago: up, down, downtime, up, only skips, nothing for two
    hours, up (with a failed copy blamed on the RSE: a copy is not part of availability)."""
    base = (time.time() // H - 9) * H
    kinds = {0: "pass", 1: "fail", 2: "downtime", 3: "pass", 4: "skip", 7: "pass"}
    records = []
    for hour, kind in kinds.items():
        run_id, start = f"ar-{uuid.uuid4().hex[:6]}", base + hour * H + 600
        for i, check in enumerate(availability.CHAIN):
            status = kind if kind != "fail" or i == 0 else "skip"  # unreachable: the rest is skipped
            records.append(
                Record(
                    run_id=run_id,
                    suite="site",
                    check=check,
                    lake=lake,
                    rse=rse,
                    protocol="davs",
                    status=status,
                    error_class="unreachable" if status == "fail" else "",
                    blame=rse if status == "fail" else "",
                    ts=start + i,
                )
            )
        if hour == 7:
            records.append(
                Record(
                    run_id=run_id,
                    suite="site",
                    check="davs_pull",
                    lake=lake,
                    rse=rse,
                    peer="ELSEWHERE",
                    protocol="davs",
                    mode="pull",
                    status="fail",
                    blame=rse,
                    ts=start + 20,
                )
            )
    return records, base


def test_the_availability_panels_give_the_figures_by_hand(lab):
    rse, lake = f"AR{uuid.uuid4().hex[:6].upper()}", f"ar-dashboard-{uuid.uuid4().hex[:6]}"
    records, base = _hourly_history(rse, lake)
    InfluxV1(SinkSpec("influxdb-v1", lab.layout.influxdb_url, database="lakeprobe")).write(records)
    postgres = f"postgresql://postgres@127.0.0.1:{lab.layout.port('postgres')}/lakeprobe"
    SqlWriter(SinkSpec("sql", postgres)).write(records)
    until = base + 8 * H

    # PostgreSQL weighs time as the command does. By hand: up [0:10, 1:10), [3:10, 4:10), [7:10, 8:00) =
    # 2 h 50 min; down 1 h; downtime 1 h; unknown: the skips' round (2 h, its validity) and 6:10 to 7:10.
    up = 2 * H + 3000
    dashboard = json.loads((REPO / "ci/grafana/dashboards/lakeprobe-postgres.json").read_text())
    (query,) = _queries(dashboard, ar=True)
    sql = query.replace("$__timeFrom()", f"to_timestamp({base})").replace("$__timeTo()", f"to_timestamp({until})")
    with psycopg.connect(f"host=127.0.0.1 port={lab.layout.port('postgres')} user=postgres dbname=lakeprobe") as db:
        cursor = db.execute(sql)
        rows = [dict(zip([c.name for c in cursor.description], r)) for r in cursor.fetchall() if r[0] == lake]
    assert [r["rse"] for r in rows] == [rse]
    assert float(rows[0]["availability"]) == pytest.approx(up / (up + 2 * H))
    assert float(rows[0]["reliability"]) == pytest.approx(up / (up + H))
    figures = availability.compute(records, lake, base, until).period[(rse, availability.ALL)]
    assert (figures.availability, figures.reliability) == pytest.approx((up / (up + 2 * H), up / (up + H)))

    # InfluxDB, in hours: up, down, downtime, up, (skips: unknown), up: availability 3/5, reliability 3/4.
    # (An hour's worst state s is up when 1 - ceil(s * (s - 1) / 6) is 1, i.e. s is 0 or 1: InfluxDB 1.6's
    # abs() of a negative integer from a subquery stays negative, so no formula with abs() is used.)
    dashboard = json.loads((REPO / "ci/grafana/dashboards/lakeprobe-influxdb.json").read_text())
    got = {}
    for query in _queries(dashboard, ar=True):
        influxql = query.replace("$timeFilter", f"time >= {int(base)}s AND time < {int(until)}s")
        reply = requests.get(
            f"{lab.layout.influxdb_url}/query",
            params={"db": "lakeprobe", "q": influxql.replace("$rse", rse)},
            timeout=10,
        ).json()["results"][0]
        assert "error" not in reply, (influxql, reply)
        (series,) = reply["series"]
        got[series["columns"][1]] = series["values"][0][1]
    assert got == pytest.approx({"availability": 3 / 5, "reliability": 3 / 4})
