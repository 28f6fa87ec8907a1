"""The status page, rendered by headless Chromium (Debian's): its cells are the latest records, neutral states
and missing data are grey, and a screenshot is taken. The records come from a real run with a real fault."""
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from lakeprobe.report import STYLE
from tests.conftest import lakeprobe_cli

CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Cells(HTMLParser):
    """Every <td> with data attributes, as the browser's DOM has it."""

    def __init__(self):
        super().__init__()
        self.cells = []

    def handle_starttag(self, tag, attrs):
        if tag == "td" and any(k.startswith("data-") for k, _ in attrs):
            self.cells.append({k.removeprefix("data-"): v for k, v in attrs})


@pytest.fixture(scope="module")
def page(lab, lab_env, run_suite, tmp_path_factory):
    results = tmp_path_factory.mktemp("report")
    lab.fault("XRD2", "down")
    try:
        proc, records, _ = run_suite("--rse", "XRD2", "--tpc-peer", "XRD1", "--protocol", "davs", "--timeout", "10",
                                     results=results)
    finally:
        lab.heal("XRD2")
    made = lakeprobe_cli("report", "--results-dir", str(results), env=lab_env)
    assert made.returncode == 0, made.stderr
    return results, records


def _chromium(*args, cwd):
    assert shutil.which("chromium"), "Debian chromium is installed by `make bootstrap`"
    return subprocess.run([*CHROMIUM, f"--user-data-dir={cwd / 'profile'}", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def test_the_page_renders_in_chromium_with_a_cell_per_latest_record(page, tmp_path):
    results, records = page
    dom = _chromium("--dump-dom", f"file://{results / 'status.html'}", cwd=tmp_path)
    assert dom.returncode == 0 and "<h1>Data lake status</h1>" in dom.stdout
    parser = Cells()
    parser.feed(dom.stdout)
    grid = {(c["rse"], c["protocol"], c["check"]): c["status"] for c in parser.cells if "check" in c}
    assert grid == {(r.rse, r.protocol, r.check): r.status for r in records if not r.peer}
    assert grid[("XRD2", "davs", "connection")] == "fail" and grid[("XRD2", "davs", "upload")] == "skip"
    matrix = {(c["source"], c["destination"], c["mode"]): c["status"] for c in parser.cells if "mode" in c}
    assert {k: v for k, v in matrix.items() if v != "nodata"} == {(r.rse, r.peer, r.mode): r.status
                                                                  for r in records if r.peer}
    order = [c["component"] for c in parser.cells if "component" in c]
    assert order == ["storage"]  # no services suite in this run: storage alone, after the (absent) services
    history = [c for c in parser.cells if c.get("rse") == "XRD2" and "hour" in c]
    assert len(history) == 24 and history[-1]["status"] == "fail"
    assert {c["status"] for c in history[:-1]} == {"nodata"}

    shot = tmp_path / "status.png"
    taken = _chromium(f"--screenshot={shot}", "--window-size=1400,900", f"file://{results / 'status.html'}",
                      cwd=tmp_path)
    assert taken.returncode == 0 and shot.stat().st_size > 10_000


def test_no_data_skip_and_downtime_are_neutral_grey():
    colours = dict(re.findall(r"td\.(\w+)[^{]*\{ background: (#\w+)", STYLE))
    rule = re.search(r"td\.skip, td\.downtime, td\.nodata \{ background: (#\w+)", STYLE).group(1)
    assert rule == "#d9d9d9" and rule not in (colours["pass"], colours["fail"])
