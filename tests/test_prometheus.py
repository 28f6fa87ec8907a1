"""Results for Prometheus, against real servers: a round pushed to VictoriaMetrics is queried back with
PromQL (every RSE x protocol x check, with its value), pushed to a real Pushgateway under its grouping
key, and written as a textfile that Prometheus' own parser reads; shards push groups of their own, with no
series twice; a push that fails costs one line and no record; mistakes stop the run before it starts; the
shipped alerting rules pass promtool's check and their unit tests."""

import shutil
import subprocess
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from lakeprobe.prometheus import exposition, push_request
from lakeprobe.records import Record
from lakeprobe.schema import STATE
from tests.helpers import REPO

ONE_RSE = ("--rse", "XRD1", "--tpc-peer", "XRD2")


def _query(vm: str, promql: str, series: int = 1) -> list[dict]:
    """The query's answer once it has this many series: fresh samples become searchable within seconds."""
    for _ in range(40):
        requests.get(f"{vm}/internal/force_flush", timeout=10)
        found = requests.get(f"{vm}/api/v1/query", params={"query": promql}, timeout=10).json()["data"]["result"]
        if len(found) >= series:
            break
        time.sleep(0.5)
    return found


def _families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _check_key(labels: dict) -> tuple:
    return tuple(labels.get(k, "") for k in ("check", "rse", "protocol", "peer", "mode", "family"))


@pytest.mark.lab
def test_a_round_reaches_victoria_metrics_the_pushgateway_and_a_textfile(
    lab, faulty, run_suite, victoria_metrics, pushgateway, tmp_path
):
    faulty("XRD2", "tpc-off")  # some fails among the passes: values that differ
    textfile = tmp_path / "textfile" / "lakeprobe.prom"
    textfile.parent.mkdir()
    runs = {}
    for push in (f"{victoria_metrics}/api/v1/import/prometheus", pushgateway):
        proc, records, _ = run_suite(*ONE_RSE, "--prometheus-push", push, "--prometheus-textfile", str(textfile))
        assert f"prometheus {push}: " in proc.stdout and " lines pushed (lake=lakeprobe-lab)" in proc.stdout
        runs[push] = {(r.check, r.rse, r.protocol, r.peer, r.mode, r.family): r for r in records}
        assert len(runs[push]) == len(records)  # one series per check
    expected = runs[f"{victoria_metrics}/api/v1/import/prometheus"]

    # VictoriaMetrics: PromQL gives every check's state, with the grouping key as labels.
    found = _query(victoria_metrics, 'lakeprobe_check_state{job="lakeprobe", lake="lakeprobe-lab"}', len(expected))
    assert {_check_key(s["metric"]): float(s["value"][1]) for s in found} == {
        k: STATE[r.status] for k, r in expected.items()
    }
    failing = _query(victoria_metrics, 'lakeprobe_check_status{status="fail"} == 1')
    assert {_check_key(s["metric"]) for s in failing} == {k for k, r in expected.items() if r.status == "fail"} != set()
    up = _query(victoria_metrics, 'lakeprobe_rse_up{protocol="all"}')
    assert {s["metric"]["rse"]: s["value"][1] for s in up} == {"XRD1": "1"}  # XRD2's chain did not run

    # The Pushgateway: the group job/lake, its series as Prometheus would scrape them.
    scraped = _families(requests.get(f"{pushgateway}/metrics", timeout=10).text)
    pushed = [s for s in scraped["lakeprobe_check_state"].samples if s.labels.get("job") == "lakeprobe"]
    assert {_check_key(s.labels): s.value for s in pushed} == {k: STATE[r.status] for k, r in runs[pushgateway].items()}

    # The textfile: whole, parsed by Prometheus' own parser, a duration for every check.
    families = _families(textfile.read_text())
    durations = {_check_key(s.labels): s.value for s in families["lakeprobe_check_duration_seconds"].samples}
    assert durations == {k: r.duration_s for k, r in runs[pushgateway].items()}
    assert not list(textfile.parent.glob(".*partial"))


@pytest.mark.lab
def test_the_shards_of_a_round_push_groups_of_their_own_and_no_series_twice(run_suite, victoria_metrics, tmp_path):
    push = f"{victoria_metrics}/api/v1/import/prometheus"
    records = []
    for shard in ("1/2", "2/2"):
        proc, mine, _ = run_suite("--shard", shard, "--run-id", "round-17", "--prometheus-push", push)
        assert proc.returncode == 0 and f"shard={shard})" in proc.stdout, proc.stdout[-2000:]
        records += mine
    series = _query(victoria_metrics, "lakeprobe_check_state", len(records))
    keys = [_check_key(s["metric"]) for s in series]
    assert len(keys) == len(set(keys)) == len(records)
    found = _query(victoria_metrics, "count by (shard) (lakeprobe_check_state)", 2)
    assert {s["metric"]["shard"]: int(s["value"][1]) for s in found} == {
        shard: sum(r.shard == shard.replace("-of-", "/") for r in records) for shard in ("1-of-2", "2-of-2")
    }
    stamps = _query(victoria_metrics, "lakeprobe_round_timestamp_seconds", 2)
    assert sorted(s["metric"]["shard"] for s in stamps) == ["1-of-2", "2-of-2"]


@pytest.mark.lab
def test_a_push_that_fails_costs_one_line_and_loses_no_record(run_suite, tmp_path):
    proc, records, _ = run_suite(*ONE_RSE, "--protocol", "root", "--prometheus-push", "http://127.0.0.1:9/")
    assert proc.returncode == 0 and records
    assert "prometheus http://127.0.0.1:9/: not pushed (ConnectionError); the records are in the run's JSONL" in (
        proc.stdout
    )


@pytest.mark.lab
@pytest.mark.parametrize(
    "option, value, said",
    [
        ("--prometheus-push", "ftp://pgw:9091", "--prometheus-push: ftp:// is not https:// or http://"),
        ("--prometheus-push", "http://u:s3cret@pgw:9091", "--prometheus-push: must not carry credentials"),
        ("--prometheus-textfile", "/nonexistent/lakeprobe.prom", "--prometheus-textfile: no directory /nonexistent"),
        (
            "--prometheus-textfile",
            "/tmp/lakeprobe.txt",
            "node-exporter reads only *.prom files, not /tmp/lakeprobe.txt",
        ),
    ],
)
def test_a_mistake_stops_the_run_before_it_starts(option, value, said, run_suite):
    proc, records, _ = run_suite(*ONE_RSE, option, value)
    assert proc.returncode == 4 and said in proc.stderr and not records, proc.stderr[-2000:]
    assert "s3cret" not in proc.stdout + proc.stderr


def test_label_values_from_a_storage_cannot_break_the_format():
    record = Record(run_id="r", suite="site", check="upload", rse='X"\\\nY', protocol="davs", status="fail")
    families = _families(exposition([record], "lake"))
    (sample,) = families["lakeprobe_check_state"].samples
    assert sample.labels["rse"] == 'X"\\\nY' and sample.value == 3


def test_the_alerting_rules_pass_promtool_and_their_unit_tests():
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with Debian's prometheus package (make bootstrap installs it)"
    rules = REPO / "ci" / "prometheus"
    checked = subprocess.run([promtool, "check", "rules", "lakeprobe.rules.yml"], cwd=rules, capture_output=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run([promtool, "test", "rules", "lakeprobe.rules.test.yml"], cwd=rules, capture_output=True)
    assert tested.returncode == 0 and b"SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def test_every_series_is_one_gauge_with_help(tmp_path):
    text = exposition([Record(run_id="r", suite="site", check="upload", rse="A", protocol="davs")], "lake", "1/2")
    families = _families(text)
    assert all(f.type == "gauge" and f.documentation for f in families.values())
    assert set(families) == {
        *("lakeprobe_check_state", "lakeprobe_check_status", "lakeprobe_check_duration_seconds"),
        *("lakeprobe_rse_up", "lakeprobe_rse_state", "lakeprobe_round_timestamp_seconds"),
    }
    (stamp,) = families["lakeprobe_round_timestamp_seconds"].samples
    assert stamp.labels == {"lake": "lake", "shard": "1-of-2"}


def test_a_lake_without_a_name_still_has_a_group():
    assert push_request("http://pgw:9091/", "", "2/4") == (
        "PUT",
        "http://pgw:9091/metrics/job/lakeprobe/lake@base64/=/shard/2-of-4",
        {},
    )
    method, url, query = push_request("http://vm:8428/api/v1/import/prometheus", "my lake", "")
    assert (method, url, query) == ("POST", "http://vm:8428/api/v1/import/prometheus",
                                    {"extra_label": ["job=lakeprobe", "lake=my lake"]})  # fmt: skip
