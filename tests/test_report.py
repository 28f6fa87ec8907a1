"""The status page, rendered by headless Chromium (Debian's), from real runs on the test lab: a cell is the
latest result of a round that ran the check for real (a skip or an ad-hoc re-run never hides a finding),
old results show as stale, a page shows one lake, silent services show "no data", findings are listed in
words, and the page can be built from the SQL sink alone on a fresh results directory."""

import re
import shutil
import subprocess
import time
import uuid
from html.parser import HTMLParser

import pytest

from lakeprobe.report import STYLE
from tests.helpers import lakeprobe_cli

pytestmark = pytest.mark.lab

LAKE = f"report-lake-{uuid.uuid4().hex[:6]}"  # the SQL sink is shared by all tests
CHROMIUM = [
    "chromium",
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Page(HTMLParser):
    """Every <td> with data attributes and the findings rows, as the browser's DOM has them."""

    def __init__(self):
        super().__init__()
        self.cells, self.findings, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "td" and any(k.startswith("data-") for k in found):
            self.cells.append({k.removeprefix("data-"): v for k, v in found.items()})
        if tag == "tr" and "data-check" in found:
            self.findings.append({k.removeprefix("data-"): v for k, v in found.items()})

    def handle_data(self, data):
        self.text.append(data)


def _chromium(*args, cwd):
    assert shutil.which("chromium"), "Debian chromium is installed by `make bootstrap`"
    return subprocess.run(
        [*CHROMIUM, f"--user-data-dir={cwd / 'profile'}", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def _render(page_file, tmp_path) -> Page:
    dom = _chromium("--dump-dom", f"file://{page_file}", cwd=tmp_path)
    assert dom.returncode == 0 and "<h1>Data lake status" in dom.stdout
    page = Page()
    page.feed(dom.stdout)
    return page


def _report(lab_env, results, *args) -> str:
    made = lakeprobe_cli("report", "--results-dir", str(results), *args, env=lab_env)
    assert made.returncode == 0, made.stderr
    return made.stdout


@pytest.fixture(scope="module")
def history(lab, lab_env, run_suite, tmp_path_factory):
    """A small lake's round with XRD2 down, then ad-hoc runs after healing it (one check; one RSE), and a newer
    round of another lake beside them. The lake has a name of its own: the SQL sink is shared by all tests."""
    import yaml

    results = tmp_path_factory.mktemp("report")
    data = yaml.safe_load(lab.layout.inventory.read_text())
    data.update(lake=LAKE)
    data.pop("caches", None)
    data["rses"] = {
        n: {**s, "protocols": {"davs": s["protocols"]["davs"]}}
        for n, s in data["rses"].items()
        if n in ("XRD1", "XRD2")
    }
    small = results.parent / "small.yaml"
    small.write_text(yaml.safe_dump(data))
    lab.fault("XRD2", "down")
    try:
        run_suite("--inventory", str(small), "--timeout", "10", results=results)
    finally:
        lab.heal("XRD2")
    adhoc, _, _ = run_suite("--inventory", str(small), "--rse", "XRD2", "-k", "connection", results=results)
    assert adhoc.returncode == 0, adhoc.stdout[-2000:]
    run_suite("--inventory", str(small), "--rse", "XRD1", "--protocol", "davs", results=results)  # another ad hoc
    other = results.parent / "other.yaml"
    other.write_text(yaml.safe_dump({**data, "lake": "other-lake", "rses": {"XRD3": data["rses"]["XRD1"]}}))
    time.sleep(1)
    run_suite("--inventory", str(other), results=results)  # newer: the default page would be this lake's
    return results


def test_a_cell_is_the_latest_round_result_and_ad_hoc_runs_never_hide_a_finding(history, lab_env, tmp_path):
    _report(lab_env, history, "--lake", LAKE, "--out", str(tmp_path / "page.html"))
    page = _render(tmp_path / "page.html", tmp_path)
    grid = {(c["rse"], c["protocol"], c["check"]): c["status"] for c in page.cells if "check" in c}
    assert grid[("XRD2", "davs", "connection")] == "fail"  # the ad-hoc pass after healing does not hide it
    assert grid[("XRD1", "davs", "connection")] == "pass" and grid[("XRD2", "davs", "upload")] == "skip"
    assert {c["rse"] for c in page.cells if "check" in c} == {"XRD1", "XRD2"}  # one lake: no XRD3
    assert any(f["check"] == "connection" and f["rse"] == "XRD2" for f in page.findings)
    text = " ".join(page.text)
    assert "unreachable" in text and "refuses connections" in text and "other-lake" in text
    services = {c["component"]: c["status"] for c in page.cells if "component" in c}
    assert services["issuer"] == services["rucio"] == "nodata" and services["storage"] == "fail"
    history_cells = {(c["rse"], c["hour"]): c["status"] for c in page.cells if "hour" in c}
    assert history_cells[("XRD2", "0")] == "fail" and history_cells[("XRD1", "0")] == "pass"
    assert "legend" in (tmp_path / "page.html").read_text() and "-6h" in text
    shot = tmp_path / "status.png"
    taken = _chromium(
        f"--screenshot={shot}", "--window-size=1400,900", f"file://{tmp_path / 'page.html'}", cwd=tmp_path
    )
    assert taken.returncode == 0 and shot.stat().st_size > 10_000


def test_the_default_page_is_the_newest_lake_and_old_results_are_stale(history, lab_env, tmp_path):
    out = _report(lab_env, history, "--stale-after", "1s", "--out", str(tmp_path / "page.html"))
    assert "lake other-lake" in out
    page = _render(tmp_path / "page.html", tmp_path)
    grid = [c for c in page.cells if "check" in c]
    assert {c["rse"] for c in grid} == {"XRD3"}
    assert all(c.get("stale") == "yes" for c in grid)  # older than a second: stale, not green
    assert "stale" in (tmp_path / "page.html").read_text()


def test_the_page_is_built_from_the_sql_sink_on_a_fresh_results_directory(history, lab, lab_env, tmp_path):
    sql = f"postgresql://postgres@127.0.0.1:{lab.layout.port('postgres')}/lakeprobe"
    fresh = tmp_path / "fresh"
    out = _report(lab_env, fresh, "--from-sql", sql, "--lake", LAKE)
    assert "from SQL sink" in out
    from_sql = _render(fresh / "status.html", tmp_path)
    _report(lab_env, history, "--lake", LAKE, "--out", str(tmp_path / "files.html"))
    from_files = _render(tmp_path / "files.html", tmp_path)
    cells = lambda page: {
        (c.get("rse"), c.get("protocol"), c.get("check")): c["status"] for c in page.cells if "check" in c
    }
    assert cells(from_sql) == cells(from_files) and cells(from_sql)


def test_no_data_skip_and_downtime_are_neutral_grey():
    colours = dict(re.findall(r"td\.(\w+)[^{]*\{ background: (#\w+)", STYLE))
    rule = re.search(r"td\.skip, td\.downtime, td\.nodata \{ background: (#\w+)", STYLE).group(1)
    assert rule == "#d9d9d9" and rule not in (colours["pass"], colours["fail"])
    assert colours["stale"] not in (colours["pass"], colours["fail"])
