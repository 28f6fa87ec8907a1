"""Availability and reliability, the rules and the arithmetic, on histories written out here (no lab): what a
round says of an RSE, how time is attributed to rounds, days, protocols, and what no data is. The same
figures from JSONL files and from a SQL database (SQLite, in-process), through `lakeprobe availability`."""

import csv
import datetime
import io
import json

import pytest

from lakeprobe import availability
from lakeprobe.availability import ALL, CHAIN, State
from lakeprobe.records import JsonlWriter, Record
from lakeprobe.sinks import SinkSpec, deliver
from tests.helpers import lakeprobe_cli, one_line_error, user_env

H = 3600.0
DAY0 = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC).timestamp()  # a UTC midnight


def chain(run_id, ts, rse, kind, protocol="davs", lake="lake", run_kind="round") -> list[Record]:
    """One round's chain records of one RSE and protocol, as the site suite writes them for each kind."""
    statuses = {
        "pass": ["pass"] * 9,
        "warn": ["warn"] + ["pass"] * 8,  # a certificate expiring soon
        "down": ["fail"] + ["skip"] * 8,  # unreachable: the rest is skipped, naming it
        "late-fail": ["pass"] * 5 + ["fail"] + ["pass"] * 3,  # a download that differs
        "downtime": ["downtime"] * 9,
        "issuer": ["pass", "error"] + ["skip"] * 7,  # no token: blamed on the issuer
        "skips": ["skip"] * 9,
    }[kind]
    records = []
    for i, (check, status) in enumerate(zip(CHAIN, statuses)):
        blame = {"fail": rse, "warn": rse, "error": "issuer"}.get(status, "")
        records.append(
            Record(
                run_id=run_id,
                suite="site",
                check=check,
                lake=lake,
                run_kind=run_kind,
                rse=rse,
                protocol=protocol,
                status=status,
                error_class={"fail": "unreachable", "warn": "tls", "error": "unreachable"}.get(status, ""),
                blame=blame,
                ts=ts + i,  # the round starts at its first record
            )
        )
    return records


def copy(run_id, ts, source, destination, status, blame, lake="lake", **fields) -> Record:
    return Record(
        run_id=run_id,
        suite="site",
        check="davs_pull",
        lake=lake,
        rse=source,
        peer=destination,
        protocol="davs",
        mode="pull",
        status=status,
        blame=blame,
        ts=ts,
        **fields,
    )


@pytest.mark.parametrize(
    "kind, state",
    [
        ("pass", State.UP),
        ("warn", State.UP),
        ("down", State.DOWN),
        ("late-fail", State.DOWN),
        ("downtime", State.DOWNTIME),
        ("issuer", State.UNKNOWN),
        ("skips", State.UNKNOWN),
    ],
)
def test_what_a_round_says_of_an_rse(kind, state):
    assert availability.protocol_state(chain("r", DAY0, "A", kind)) == state


def test_an_rse_over_its_protocols_and_a_broken_peer_never_counts_against_it():
    records = chain("r", DAY0, "A", "pass") + chain("r", DAY0, "A", "down", protocol="root")
    records += chain("r", DAY0, "B", "pass") + chain("r", DAY0, "B", "downtime", protocol="root")
    records += chain("r", DAY0, "C", "pass") + chain("r", DAY0, "C", "skips", protocol="root")
    records += [copy("r", DAY0, "C", "A", "fail", "A"), copy("r", DAY0, "C", "D", "fail", "C->D")]  # copies: not chain
    states = availability.round_states(records)
    assert states[("A", ALL)] == State.DOWN and states[("A", "davs")] == State.UP
    assert states[("B", ALL)] == State.DOWNTIME
    assert states[("C", ALL)] == State.UP and states[("C", "root")] == State.UNKNOWN
    assert ("D", ALL) not in states  # a peer only: its chain did not run


def test_time_goes_to_the_round_until_the_next_at_most_its_validity():
    # Rounds at 00:00 up, 01:00 down, 02:00 downtime, 03:00 up, none until 07:00 up; until 08:00, validity 2 h.
    # By hand: up [0,1) + [3,5) + [7,8) = 4 h; down [1,2) = 1 h; downtime [2,3) = 1 h; unknown [5,7) = 2 h.
    # availability = 4 / (4 + 1 + 1) = 2/3; reliability = 4 / (4 + 1) = 0.8.
    kinds = {0: "pass", 1: "down", 2: "downtime", 3: "pass", 7: "pass"}
    records = [r for hour, kind in kinds.items() for r in chain(f"r{hour}", DAY0 + hour * H, "A", kind)]
    records += chain("adhoc", DAY0 + 5 * H, "A", "pass", run_kind="adhoc")  # an ad-hoc run fills no gap
    records += chain("other", DAY0 + 1.5 * H, "A", "pass", lake="other-lake")  # another lake's round
    figures = availability.compute(records, "lake", DAY0, DAY0 + 8 * H, validity_s=2 * H)
    tally = figures.period[("A", ALL)]
    assert (tally.up, tally.down, tally.downtime, tally.unknown) == (4 * H, 1 * H, 1 * H, 2 * H)
    assert tally.availability == pytest.approx(2 / 3) and tally.reliability == pytest.approx(0.8)
    assert figures.rounds == 5 and figures.period[("A", "davs")] == tally


def test_days_split_at_utc_midnight_and_no_data_is_unknown_not_down():
    # Day 1: nothing until a round at 22:00 (up) and 23:00 (down), which holds until 01:00 of day 2; day 2:
    # a round at 01:00 (issuer down: unknown), one at 02:00 (up) holding until 04:00 (validity 2 h).
    # Until day 2, 04:00. By hand, day 1: unknown 22 h, up 1 h, down 1 h: A = R = 50 %. Day 2: down [0,1),
    # unknown [1,2), up [2,4): A = R = 2/3, unknown 1 h. Period: up 3 h, down 2 h, unknown 23 h: A = 60 %.
    kinds = {22: "pass", 23: "down", 25: "issuer", 26: "pass"}
    records = [r for hour, kind in kinds.items() for r in chain(f"r{hour}", DAY0 + hour * H, "A", kind)]
    figures = availability.compute(records, "lake", DAY0, DAY0 + 28 * H, validity_s=2 * H)
    day1, day2 = figures.days[("A", ALL, "2026-11-01")], figures.days[("A", ALL, "2026-11-02")]
    assert (day1.up, day1.down, day1.downtime, day1.unknown) == (1 * H, 1 * H, 0, 22 * H)
    assert (day2.up, day2.down, day2.downtime, day2.unknown) == (2 * H, 1 * H, 0, 1 * H)
    assert day1.availability == day1.reliability == 0.5 and day2.availability == pytest.approx(2 / 3)
    assert figures.period[("A", ALL)].availability == pytest.approx(0.6)
    assert figures.day_names() == ["2026-11-01", "2026-11-02"]


def test_the_round_before_the_period_covers_its_start_and_a_silent_rse_has_no_figure():
    # A round 30 min before the period (A up, B only skipped) holds for 90 min of it; then nothing.
    records = chain("r0", DAY0 - 0.5 * H, "A", "pass") + chain("r0", DAY0 - 0.5 * H, "B", "skips")
    figures = availability.compute(records, "lake", DAY0, DAY0 + 4 * H, validity_s=2 * H)
    a, b = figures.period[("A", ALL)], figures.period[("B", ALL)]
    assert (a.up, a.unknown) == (1.5 * H, 2.5 * H) and a.availability == 1.0
    assert b.availability is None and b.reliability is None and b.unknown == 4 * H
    assert figures.rounds == 0  # it started before the period
    assert "no data" in availability.as_table(figures)


def test_an_rse_that_joins_the_lake_later_is_unknown_before():
    records = chain("r0", DAY0, "A", "pass") + chain("r1", DAY0 + H, "A", "pass") + chain("r1", DAY0 + H, "B", "pass")
    figures = availability.compute(records, "lake", DAY0, DAY0 + 2 * H)
    assert figures.period[("B", ALL)].unknown == H and figures.period[("B", ALL)].up == H


def test_csv_json_and_table_carry_the_same_figures():
    records = chain("r0", DAY0, "A", "pass") + chain("r1", DAY0 + H, "A", "down", protocol="root")
    figures = availability.compute(records, "lake", DAY0, DAY0 + 2 * H)
    rows = list(csv.DictReader(io.StringIO(availability.as_csv(figures))))
    period = {(r["rse"], r["protocol"]): r for r in rows if r["span"] == "period"}
    assert float(period[("A", "all")]["availability"]) == 0.5 and period[("A", "davs")]["reliability"] == "1.000000"
    assert period[("A", "root")]["availability"] == "0.000000" and float(period[("A", "root")]["unknown_s"]) == H
    document = json.loads(availability.as_json(figures))
    assert document["until_ts"] == DAY0 + 2 * H and document["rounds"] == 2
    assert [r["span"] for r in document["rows"] if r["protocol"] == "all"] == ["period", "2026-11-01"]
    table = availability.as_table(figures)
    lines = [line.split() for line in table.splitlines()]
    assert ["A", "all", "50.0%", "50.0%", "1.0", "h", "1.0", "h", "0", "s", "0", "s"] in lines
    assert ["A", "davs", "100.0%", "100.0%", "1.0", "h", "0", "s", "0", "s", "1.0", "h"] in lines
    assert ["A", "root", "0"] in lines  # per day


@pytest.fixture
def history_files(tmp_path):
    """Hourly rounds ending an hour ago: A up, down, downtime, up; B up throughout. In JSONL files and, through
    the SQL sink, in a SQLite database."""
    import time

    start = (time.time() // H - 5) * H
    kinds = ["pass", "down", "downtime", "pass"]
    records = []
    for i, kind in enumerate(kinds):
        records += chain(f"r{i}", start + i * H, "A", kind) + chain(f"r{i}", start + i * H + 30, "B", "pass")
    results = tmp_path / "results"
    for run_id in {r.run_id for r in records}:
        writer = JsonlWriter(results, run_id)
        writer.rewrite([r for r in records if r.run_id == run_id])
    database = f"sqlite:///{tmp_path / 'lakeprobe.db'}"
    assert deliver(SinkSpec("sql", database), records, tmp_path)[2] == ""
    return results, database, start


def test_the_command_gives_the_same_figures_from_jsonl_and_from_sql(history_files):
    results, database, start = history_files
    from_files = lakeprobe_cli("availability", "--results-dir", str(results), "--format", "json", env=user_env())
    from_sql = lakeprobe_cli(
        "availability", "--from-sql", database, "--lake", "lake", "--format", "json", env=user_env()
    )
    assert from_files.returncode == from_sql.returncode == 0, from_files.stderr + from_sql.stderr
    files, sql = json.loads(from_files.stdout), json.loads(from_sql.stdout)
    # By hand: A up [0,1 h) and from 3 h for the last round's validity, 2 h (now is 5-6 h after the first
    # round), down [1,2), downtime [2,3).
    until = files["until_ts"]
    last = min(until, start + 5 * H) - (start + 3 * H)
    a = {r["protocol"]: r for r in files["rows"] if r["rse"] == "A" and r["span"] == "period"}["all"]
    assert a["up_s"] == pytest.approx(H + last, abs=1e-3) and a["down_s"] == a["downtime_s"] == H
    assert a["availability"] == pytest.approx((H + last) / (3 * H + last))
    assert a["reliability"] == pytest.approx((H + last) / (2 * H + last))
    assert files["lake"] == sql["lake"] == "lake" and files["rounds"] == sql["rounds"] == 4

    def figures(document):
        return {(r["rse"], r["protocol"], r["span"]): (r["availability"], r["reliability"]) for r in document["rows"]}

    by_file, by_sql = figures(files), figures(sql)
    assert by_file.keys() == by_sql.keys()
    for key, (availability_, reliability) in by_file.items():  # `until` differs by the moments between commands
        assert by_sql[key][0] == pytest.approx(availability_, abs=1e-3), key
        assert by_sql[key][1] == pytest.approx(reliability, abs=1e-3), key


def test_mistakes_are_one_line(tmp_path, run_lakeprobe_here):
    env = user_env()
    for args, words in [
        (["--since", "30"], "--since"),
        (["--validity", "0h"], "must be above 0"),
        (["--format", "xml"], "invalid choice"),
        (["--from-sql", "postgresql://me:hunter2@db/x"], "must not carry credentials"),
        (["--from-sql", "nosuchdb://db/x"], "no database dialect"),
        (["--inventory", str(tmp_path / "none.yaml")], "cannot read inventory"),
    ]:
        proc = run_lakeprobe_here("availability", *args, env=env)
        assert proc.returncode == 2 and words in one_line_error(proc), (args, proc.stderr)
        assert "hunter2" not in proc.stdout + proc.stderr
