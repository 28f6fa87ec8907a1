"""The status page's charts, rendered by headless Chromium from 30 days of rounds written as a lake's
results directory: a bar per UTC day for each RSE (no data dashed, downtime grey, down red), a cell per copy
link with its throughput (no data where no copy moved data), and names escaped."""

import json
import re
import time

from lakeprobe import availability, charts, report
from lakeprobe.records import Record
from tests.test_availability_rules import chain, copy
from tests.test_report import _chromium

RSES = ("XRD1", "XRD2", "XRD3")
THROUGHPUT = {"XRD1": 3e7, "XRD2": 4e8, "XRD3": 2e6}  # of the copies each RSE sends


def _rounds(now: float) -> list[list[Record]]:
    """A round every 6 hours for 30 days, the last one now: XRD2 down from 200 to 100 hours ago, XRD3 new 20
    days ago, and copies into XRD3 failing."""
    rounds = []
    for hours in range(30 * 24, -1, -6):
        ts, run_id = now - hours * 3600, f"run-{hours}"
        records = []
        for rse in RSES:
            if rse != "XRD3" or hours <= 20 * 24:
                records += chain(run_id, ts, rse, "down" if rse == "XRD2" and 100 < hours < 200 else "pass", lake="lab")
        for source in RSES:
            for destination in set(RSES) - {source}:
                status = "fail" if destination == "XRD3" else "pass"
                records.append(
                    copy(run_id, ts, source, destination, status, "", "lab", throughput_Bps=THROUGHPUT[source])
                )
        rounds.append(records)
    return rounds


def test_the_page_draws_a_bar_per_day_and_a_cell_per_link(tmp_path):
    now = time.time()
    results = tmp_path / "results"
    results.mkdir()
    for i, records in enumerate(_rounds(now)):
        name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(records[0].ts)) + f"-{i:06x}.jsonl"
        (results / name).write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    report.write(tmp_path / "page.html", results, None, "lab", 7200, now)
    dom = _chromium("--dump-dom", f"file://{tmp_path / 'page.html'}", cwd=tmp_path).stdout
    days = len(availability.load(results, None, "lab", now - availability.PERIOD_S, now).day_names())
    assert days in (30, 31)  # the period's first day is partial unless it starts at midnight
    for rse in RSES:
        chart = re.search(rf'<svg class="ar-chart" data-rse="{rse}" data-points="(\d+)".*?</svg>', dom, re.S)
        assert chart and int(chart[1]) == days, rse
        assert len(re.findall(r'class="day( nodata)?"', chart[0])) == days
    charts_of = {rse: re.search(rf'data-rse="{rse}" data-points.*?</svg>', dom, re.S)[0] for rse in RSES}
    assert 'fill="#d0312d"' in charts_of["XRD2"] and 'fill="#d0312d"' not in charts_of["XRD1"]  # down days
    assert charts_of["XRD3"].count('class="day nodata"') >= 10  # before it joined: no data, not red
    links = re.findall(
        r'<g class="link( nodata)?" data-source="(\w+)" data-destination="(\w+)"( data-mbps="([\d.]+)")?', dom
    )
    assert len(links) == 6
    measured = {(s, d): mbps for nodata, s, d, _, mbps in links if not nodata}
    assert measured == {("XRD1", "XRD2"): "30.0", ("XRD2", "XRD1"): "400.0", ("XRD3", "XRD1"): "2.0",
                        ("XRD3", "XRD2"): "2.0"}  # fmt: skip
    assert {(s, d) for nodata, s, d, _, _ in links if nodata} == {("XRD1", "XRD3"), ("XRD2", "XRD3")}
    shot = tmp_path / "status.png"
    taken = _chromium(f"--screenshot={shot}", "--window-size=1000,1400", f"file://{tmp_path / 'page.html'}",
                      cwd=tmp_path)  # fmt: skip
    assert taken.returncode == 0 and shot.stat().st_size > 10_000


def test_names_in_a_chart_are_text():
    svg = charts.throughput_heatmap(["<b>A</b>", "B"], [])
    assert "<b>" not in svg and "&lt;b&gt;A&lt;/b&gt;" in svg
    assert "<script" not in charts.availability_chart('"><script>', [])


def test_stale_copies_and_rucio_transfers_stay_out_of_the_heat_map():
    now = time.time()
    fresh = Record(run_id="r", suite="site", check="davs_pull", rse="A", peer="B", protocol="davs", mode="pull",
                   throughput_Bps=5e7, ts=now - 60)  # fmt: skip
    old = Record(run_id="r", suite="site", check="davs_pull", rse="B", peer="A", protocol="davs", mode="pull",
                 throughput_Bps=5e7, ts=now - 5 * 3600)  # fmt: skip
    transfer = Record(run_id="r", suite="rucio", check="rucio_rule_transfer", rse="A", peer="B", ts=now - 60)
    page = report.render([[fresh, old, transfer]], "lab", [], now, 7200)
    links = dict(re.findall(r'<g class="link( nodata)?" data-source="(\w+)"', page)[i][::-1] for i in range(2))
    assert links == {"A": "", "B": " nodata"}  # B->A is stale: drawn as no data, not as today's
