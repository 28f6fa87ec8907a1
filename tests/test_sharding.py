"""A round spread over shards (--shard K/N, --run-id): each check in exactly one shard, each chain whole, the
shards balanced, one run id, nothing left behind; --tpc-pairs rotate covers every ordered pair within 24
rounds, each RSE with its peers every round; a second round of a lake while one runs is refused."""

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from lakeprobe import chat, lock, report
from lakeprobe.records import RUN_ID, Record, run_id_for, run_started
from lakeprobe.state import ROTATION_ROUNDS, rotated_pairs
from plugins.scheduling import group_of
from plugins.sharding import assign, cost
from tests.helpers import (
    PYTHON,
    REPO,
    Env,
    file_lake,
    lakeprobe_cli,
    left_on_storage,
    one_line_error,
    run_pytest,
    user_env,
)

KEY = ("check", "rse", "protocol", "peer", "mode")


def _nodeids(rses: int) -> list[str]:
    names = [f"XRD{i}" for i in range(1, rses + 1)]
    ids = [
        f"suites/site/test_storage.py::test_{c}[{n}-{p}]"
        for n in names
        for p in ("davs", "root")
        for c in ("connection", "mkdir", "upload")
    ]
    ids += [f"suites/site/test_authz.py::test_no_token[{n}-{p}]" for n in names for p in ("davs", "root")]
    ids += [
        f"suites/site/test_tpc.py::test_copy[{a}>{b}-{p}-{m}]"
        for a in names
        for b in names
        if a != b
        for p, m in (("davs", "pull"), ("davs", "push"), ("root", "tpc"))
    ]
    return ids + ["suites/services/test_issuer.py::test_issuer_jwks"]


def test_shards_hold_whole_groups_balanced_and_agree():
    ids = _nodeids(20)
    chosen = assign(ids, 4)
    assert assign(list(reversed(ids)), 4) == chosen  # the order of collection does not matter
    load = Counter()
    for nodeid in ids:
        load[chosen[group_of(nodeid)]] += cost(nodeid)
    assert set(load) == {1, 2, 3, 4} and max(load.values()) < 1.1 * min(load.values())
    chains = {group_of(i) for i in ids if "test_storage" in i}
    assert len(chains) == 40  # one group per RSE x protocol: a chain is never split


@pytest.mark.parametrize("rses, peers", [(3, 2), (10, 2), (20, 2), (50, 2), (50, 5)])
def test_rotation_covers_every_pair_within_24_rounds_and_each_rse_has_its_peers(rses, peers):
    names = [f"R{i:02}" for i in range(rses)]
    start = int(run_started(run_id_for("any")) // 3600)
    covered = set()
    for hour in range(start, start + ROTATION_ROUNDS):
        pairs = rotated_pairs(names, hour, peers)
        assert len(set(pairs)) == len(pairs)
        out, into = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
        assert min(out[n] for n in names) >= min(peers, rses - 1) and min(into[n] for n in names) >= min(
            peers, rses - 1
        )
        covered.update(pairs)
    assert covered == {(a, b) for a in names for b in names if a != b}


def test_a_pipeline_id_makes_one_run_id_for_every_shard():
    now = 1_795_600_000.0
    assert run_id_for("pipeline-42", now) == run_id_for("pipeline-42", now + 600)  # shards start minutes apart
    assert run_id_for("pipeline-42", now) != run_id_for("pipeline-43", now)
    assert (
        RUN_ID.match(run_id_for("pipeline-42", now))
        and run_id_for("20261125T190000Z-abcdef") == "20261125T190000Z-abcdef"
    )


def test_a_second_round_of_a_lake_while_one_runs_is_refused(tmp_path):
    inventory = file_lake(tmp_path)
    lock.hold("file-lake", "", str(tmp_path / "r"))  # this process holds the round of lake file-lake
    proc = run_pytest(
        "suites/site", "--inventory", str(inventory), "--results-dir", str(tmp_path / "r"), env=user_env()
    )
    assert proc.returncode == 4
    assert "a round of lake file-lake is running already" in one_line_error(proc)
    adhoc = run_pytest(
        "suites/site",
        "--inventory",
        str(inventory),
        "--results-dir",
        str(tmp_path / "r"),
        "--rse",
        "DISK1",
        env=user_env(),
    )
    assert adhoc.returncode == 0, adhoc.stdout[-2000:]  # an ad-hoc run is not held back


@pytest.mark.lab
def test_shards_run_every_check_of_the_round_exactly_once(lab, lab_env, tmp_path):
    def records(results: Path) -> list[dict]:
        return [json.loads(line) for f in results.rglob("*.jsonl") for line in f.read_text().splitlines()]

    base = [
        PYTHON,
        "-m",
        "pytest",
        "suites",
        "-q",
        "-p",
        "no:cacheprovider",
        "--no-sinks",
        "--inventory",
        str(lab.layout.inventory),
        "--timeout",
        "20",
    ]
    shards = [
        subprocess.Popen(
            [*base, "--shard", f"{k}/3", "--run-id", "pipeline-7", "--results-dir", str(tmp_path / f"shard{k}")],
            cwd=REPO,
            env=lab_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for k in (1, 2, 3)
    ]
    outputs = [p.communicate(timeout=900)[0] for p in shards]
    assert [p.returncode for p in shards] == [0, 0, 0], "\n".join(o[-1500:] for o in outputs)
    whole = subprocess.run(
        [*base, "--results-dir", str(tmp_path / "whole")],
        cwd=REPO,
        env=lab_env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert whole.returncode == 0, whole.stdout[-2000:]
    sharded, unsharded = (
        records(tmp_path / "shard1") + records(tmp_path / "shard2") + records(tmp_path / "shard3"),
        records(tmp_path / "whole"),
    )
    # rucio_events is judged by each shard over the rules it made (the report takes the round's worst).
    events = [r for r in sharded if r["check"] == "rucio_events"]
    assert sorted(r["shard"] for r in events) == sorted({r["shard"] for r in sharded if r["check"] == "rucio_rule"})
    counted = Counter(tuple(r[k] for k in KEY) for r in sharded if r["check"] != "rucio_events")
    assert counted == Counter(tuple(r[k] for k in KEY) for r in unsharded if r["check"] != "rucio_events")
    assert set(counted.values()) == {1}
    assert len({r["run_id"] for r in sharded}) == 1 and {r["shard"] for r in sharded} == {"1/3", "2/3", "3/3"}
    run_id = sharded[0]["run_id"]
    assert left_on_storage(lab, run_id) == []


def test_the_report_of_a_round_with_a_missing_shard_shows_its_checks_as_no_data_and_chat_names_it(receiver, tmp_path):
    """An earlier round saw everything; shard 1 of the scheduled round ran and shard 2 never delivered: the
    page shows no green for what shard 2 checks (however recent the earlier result), and chat says so."""
    url, received = receiver
    inventory, results = file_lake(tmp_path, rses=("DISK1", "DISK2", "DISK3", "DISK4")), tmp_path / "r"
    env = user_env()
    common = ("suites/site", "--inventory", str(inventory), "--results-dir", str(results))
    assert run_pytest(*common, env=env).returncode == 0  # the earlier round, whole
    assert run_pytest(*common, "--shard", "1/2", "--run-id", "pipeline-7", env=env).returncode == 0
    page = tmp_path / "status.html"
    proc = lakeprobe_cli(
        *("report", "--results-dir", str(results), "--out", str(page), "--run-id", "pipeline-7", "--shards", "2"),
        *("--chat", "mattermost"),
        env=Env({**env, "LAKEPROBE_CHAT_WEBHOOK": url}),
    )
    assert proc.returncode == 0, proc.stderr
    note = "round pipeline-7: shard 2/2 delivered no records: its checks have no data"
    assert note in proc.stdout and note in page.read_text()
    shard_one = {
        r["rse"] for f in results.glob("*.jsonl") for r in map(json.loads, f.read_text().splitlines()) if r["shard"]
    }
    text = page.read_text()
    for rse in ("DISK1", "DISK2", "DISK3", "DISK4"):
        cell = f'data-rse="{rse}" data-protocol="file" data-check="upload"'
        status = "pass" if rse in shard_one else "nodata"
        assert f'data-status="{status}"' in text.split(cell)[0].rsplit("<td", 1)[-1], (rse, status)
    assert len(received) == 1 and note in received[0]["text"]


def test_a_check_judged_by_every_shard_shows_the_rounds_worst():
    def events(run_id: str, shard: str, status: str, ts: float) -> Record:
        return Record(run_id, "services", "rucio_events", shard=shard, rse="rucio", status=status, ts=ts)

    one = [events("r1", "1/2", "error", 10.0), events("r1", "2/2", "pass", 20.0)]
    series = one[0].series
    assert report.latest_results([one])[series].status == "error"  # not the later shard's pass
    following = [events("r2", "1/2", "pass", 30.0), events("r2", "2/2", "pass", 40.0)]
    assert report.latest_results([one, following])[series].status == "pass"  # the next round's verdict
    # Chat hears the same: failing in one shard for two rounds is failing, whatever the other shard said.
    again = [events("r3", "1/2", "error", 50.0), events("r3", "2/2", "pass", 60.0)]
    assert [c.health for c in chat.changes([one, again], confirm=2)] == ["failing"]
