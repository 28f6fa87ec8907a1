"""Availability and reliability from a real history: six rounds of a 2-RSE lake on the test lab, with faults
injected and healed, a declared downtime, an issuer outage and an ad-hoc run between them. The figures
computed by hand here (from the rounds' start times and what each round is known to have met) are those
`lakeprobe availability` gives from the JSONL, from PostgreSQL and from MariaDB, those of the status page's
A/R column, and those of the PostgreSQL dashboard's A/R panel query."""

import json
import re
import time
import uuid
from collections import defaultdict

import psycopg
import pytest
import yaml

from lakeprobe import availability, report
from lakeprobe.availability import State
from lakeprobe.records import read_jsonl
from tests.helpers import MARIADB_PORT, REPO, Env, MariaDB, lakeprobe_cli

pytestmark = pytest.mark.lab

LAKE = f"ar-lake-{uuid.uuid4().hex[:6]}"  # the lab's SQL and InfluxDB are shared by all tests
UP, DOWN, DOWNTIME, UNKNOWN = State.UP, State.DOWN, State.DOWNTIME, State.UNKNOWN
# What each round meets, and so what it says of (XRD1, XRD2).
SCENARIO = [
    ("healthy", (UP, UP)),
    ("XRD2 read-only: copies from XRD1 into it fail too, blamed on XRD2", (UP, DOWN)),
    ("XRD2 healed; XRD1 in declared downtime", (DOWNTIME, UP)),
    ("XRD1 down", (DOWN, UP)),
    ("XRD1 healed; the token issuer stopped: no chain can be judged", (UNKNOWN, UNKNOWN)),
    ("healthy", (UP, UP)),
]


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory):
    server = MariaDB(tmp_path_factory.mktemp("mariadb"), port=MARIADB_PORT).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lake(lab, lab_env, run_suite, mariadb, tmp_path_factory):
    """The history: its results directory, inventory, environment and rounds (oldest first)."""
    directory = tmp_path_factory.mktemp("availability")
    data = yaml.safe_load(lab.layout.inventory.read_text())
    data.update(lake=LAKE, sql={"url": mariadb.url()})  # the lab's `postgres:` stays: both SQL sinks get it
    data.pop("caches", None)
    data["rses"] = {
        n: {**s, "protocols": {"davs": s["protocols"]["davs"]}}
        for n, s in data["rses"].items()
        if n in ("XRD1", "XRD2")
    }
    inventory = directory / "lake.yaml"
    inventory.write_text(yaml.safe_dump(data))
    downtime = directory / "downtime.yaml"
    data["rses"]["XRD1"]["downtime"] = "storage upgrade"
    downtime.write_text(yaml.safe_dump(data))
    env = Env({**lab_env, "LAKEPROBE_SQL_PASSWORD": mariadb.password})
    results = directory / "results"

    def round_(with_inventory=inventory, healthy=False):
        proc, _, _ = run_suite("--timeout", "10", results=results, env=env, inventory=with_inventory)
        assert f"(round), lake {LAKE}" in proc.stdout and (proc.returncode == 0 or not healthy), proc.stdout[-2000:]
        assert "sql mysql+pymysql" in proc.stdout and "spooled" not in proc.stdout, proc.stdout[-2000:]

    round_(healthy=True)
    lab.fault("XRD2", "readonly")
    try:
        round_()
    finally:
        lab.heal("XRD2")
    adhoc, _, _ = run_suite("--rse", "XRD2", "-k", "connection", results=results, env=env, inventory=inventory)
    assert adhoc.returncode == 0, adhoc.stdout[-2000:]  # ad hoc: it must not count
    round_(downtime)
    lab.fault("XRD1", "down")
    try:
        round_()
    finally:
        lab.heal("XRD1")
    lab.stop_service("issuer")
    try:
        round_()
    finally:
        lab.issuer.start()
    round_(healthy=True)
    records = [r for f in sorted(results.glob("*.jsonl")) for r in read_jsonl(f)]
    return directory, inventory, env, records


def _rounds(records) -> list[tuple[float, dict]]:
    """Each round's start (its first chain record) and states, oldest first."""
    by_run = defaultdict(list)
    for r in records:
        if r.lake == LAKE and r.run_kind == "round" and availability.is_chain(r):
            by_run[r.run_id].append(r)
    return sorted(
        ((min(r.ts for r in rs), availability.round_states(rs)) for rs in by_run.values()), key=lambda x: x[0]
    )


def by_hand(starts: list[float], states: list[tuple[State, State]], until: float) -> dict:
    """Each round holds until the next starts (all well within the 2 h validity), the last until `until`;
    before the first round: unknown, left out. (availability, reliability) per RSE."""
    figures = {}
    for i, rse in enumerate(("XRD1", "XRD2")):
        seconds = defaultdict(float)
        for n, start in enumerate(starts):
            seconds[states[n][i]] += (starts[n + 1] if n + 1 < len(starts) else until) - start
        up, down, downtime = seconds[UP], seconds[DOWN], seconds[DOWNTIME]
        figures[rse] = (up / (up + down + downtime), up / (up + down))
    return figures


def test_each_round_says_what_it_met(lake):
    _, _, _, records = lake
    rounds = _rounds(records)
    assert [(s[("XRD1", "all")], s[("XRD2", "all")]) for _, s in rounds] == [states for _, states in SCENARIO]
    assert all(s[(rse, "davs")] == s[(rse, "all")] for _, s in rounds for rse in ("XRD1", "XRD2"))
    copies_into_xrd2 = [r for r in records if r.rse == "XRD1" and r.peer == "XRD2" and r.status == "fail"]
    assert copies_into_xrd2 and {r.blame for r in copies_into_xrd2} == {"XRD2"}  # round 2: not XRD1's


def _command(env, *source) -> dict:
    proc = lakeprobe_cli("availability", *source, "--format", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _period(document) -> dict:
    rows = {(r["rse"], r["protocol"]): r for r in document["rows"] if r["span"] == "period"}
    return {rse: (rows[(rse, "all")]["availability"], rows[(rse, "all")]["reliability"]) for rse in ("XRD1", "XRD2")}


def test_the_figures_by_hand_from_jsonl_postgresql_and_mariadb(lab, lake):
    directory, inventory, env, records = lake
    rounds = _rounds(records)
    starts, states = [t for t, _ in rounds], [states for _, states in SCENARIO]
    postgres = f"postgresql://postgres@127.0.0.1:{lab.layout.port('postgres')}/lakeprobe"
    documents = {
        "jsonl": _command(env, "--results-dir", str(directory / "results"), "--lake", LAKE),
        "postgresql": _command(env, "--from-sql", postgres, "--lake", LAKE),
        "mariadb": _command(env, "--inventory", str(inventory)),  # its `sql:`, MariaDB, and its lake
    }
    for source, document in documents.items():
        assert document["lake"] == LAKE and document["rounds"] == len(SCENARIO), source
        expected = by_hand(starts, states, document["until_ts"])
        for rse, (a, r) in _period(document).items():
            assert a == pytest.approx(expected[rse][0], abs=1e-6), (source, rse)
            assert r == pytest.approx(expected[rse][1], abs=1e-6), (source, rse)
        unknown = {row["rse"]: row["unknown_s"] for row in document["rows"] if row["span"] == "period"}
        for rse in ("XRD1", "XRD2"):  # before the first round, and the issuer's outage
            assert unknown[rse] == pytest.approx(starts[0] - document["since_ts"] + starts[5] - starts[4], abs=1e-2)
    # XRD1 was in downtime for a round: its reliability leaves that time out, its availability does not.
    a, r = _period(documents["jsonl"])["XRD1"]
    assert a < r < 1


def test_the_status_page_shows_the_same_figures_from_files_and_from_sql(lab, lake, tmp_path):
    directory, _, _, records = lake
    now = time.time()
    expected = by_hand([t for t, _ in _rounds(records)], [s for _, s in SCENARIO], now)
    postgres = f"postgresql://postgres@127.0.0.1:{lab.layout.port('postgres')}/lakeprobe"
    for sql in (None, postgres):
        page = tmp_path / "status.html"
        report.write(page, directory / "results", sql, LAKE, now=now)
        cells = dict(re.findall(r'class="ar" data-rse="(\w+)" data-availability="([\d.]+%)"', page.read_text()))
        assert cells == {rse: availability.percent(a) for rse, (a, _) in expected.items()}, sql
        assert "30 days: availability / reliability" in page.read_text()


def test_the_postgresql_dashboards_ar_query_gives_the_same_figures(lab, lake):
    _, _, _, records = lake
    starts = [t for t, _ in _rounds(records)]
    dashboard = json.loads((REPO / "ci/grafana/dashboards/lakeprobe-postgres.json").read_text())
    (query,) = [t["rawSql"] for p in dashboard["panels"] if p["title"].startswith("Availability") for t in p["targets"]]
    since, until = starts[0] - 3600, starts[-1] + 60
    sql = query.replace("$__timeFrom()", f"to_timestamp({since})").replace("$__timeTo()", f"to_timestamp({until})")
    with psycopg.connect(f"host=127.0.0.1 port={lab.layout.port('postgres')} user=postgres dbname=lakeprobe") as db:
        cursor = db.execute(sql)
        rows = [dict(zip([c.name for c in cursor.description], row)) for row in cursor.fetchall()]
    expected = by_hand(starts, [s for _, s in SCENARIO], until)
    got = {r["rse"]: (r["availability"], r["reliability"]) for r in rows if r["lake"] == LAKE}
    assert got.keys() == expected.keys()
    for rse, (a, r) in got.items():
        assert float(a) == pytest.approx(expected[rse][0], abs=1e-6) and float(r) == pytest.approx(
            expected[rse][1], abs=1e-6
        )
