"""The Grafana dashboards (ci/grafana/) are valid provisioning JSON, their queries run on the real stores the
sinks fill and name only what the sinks write, and no data, skip and downtime are grey, never red or green.
(Grafana itself cannot run here: the panels' rendering is not tested.)"""

import json
import re

import psycopg
import pytest
import requests
import yaml

from lakeprobe import schema
from tests.helpers import REPO

pytestmark = pytest.mark.lab

DASHBOARDS = sorted((REPO / "ci" / "grafana" / "dashboards").glob("*.json"))
RED, GREEN = "#d0312d", "#2e9e44"
VARIABLES = {"$rse": "XRD1", "$protocol": "davs", "$mode": "pull"}


def _queries(dashboard: dict) -> list[str]:
    targets = [t for p in dashboard["panels"] for t in p["targets"]]
    variables = [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return [t.get("query") or t["rawSql"] for t in targets] + variables


def test_dashboards_are_provisioned_with_the_datasources_they_name():
    provisioned = yaml.safe_load((REPO / "ci/grafana/provisioning/datasources/lakeprobe.yaml").read_text())
    uids = {d["uid"]: d["type"] for d in provisioned["datasources"]}
    assert len(DASHBOARDS) == 2
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
        titles = " ".join(p["title"] for p in dashboard["panels"])
        assert all(word in titles for word in ("RSE x check", "History", "Third-party copy", "Throughput"))
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


def test_influxql_queries_run_on_the_lab_and_name_only_what_the_sink_writes(lab, run_suite):
    proc, records, _ = run_suite("--rse", "XRD1", "--tpc-peer", "XRD2", "--protocol", "davs")
    assert proc.returncode == 0
    dashboard = json.loads((REPO / "ci/grafana/dashboards/lakeprobe-influxdb.json").read_text())
    known = set(schema.TAGS) | set(schema.FIELDS) | {schema.MEASUREMENT, "state"}
    for query in _queries(dashboard):
        assert set(re.findall(r'"([^"]+)"', query)) <= known, query
        sql = query.replace("$timeFilter", "time > now() - 1h").replace("$__interval", "1m")
        for variable, value in VARIABLES.items():
            sql = sql.replace(variable, value)
        reply = requests.get(f"{lab.layout.influxdb_url}/query", params={"db": "lakeprobe", "q": sql}, timeout=10)
        result = reply.json()["results"][0]
        assert "error" not in result and result.get("series"), (query, result)


def test_sql_queries_run_on_the_lab_and_name_only_what_the_sink_writes(lab, run_suite):
    proc, records, _ = run_suite("--rse", "XRD1", "--tpc-peer", "XRD2", "--protocol", "davs")
    assert proc.returncode == 0
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
