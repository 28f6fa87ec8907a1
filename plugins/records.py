"""One result record per check: the `record` fixture, the status decided from the test's outcome, the
JSONL file of the run, and the RSE x check summary at the end of the run."""
import os
from collections import defaultdict
from pathlib import Path

import pytest

from lakeprobe.errors import ProbeError, ProbeFailure, scrub
from lakeprobe.records import RESULTS_DIR, JsonlWriter, Record, new_run_id

_KEY = "lakeprobe_record"


class Downtime(pytest.skip.Exception):
    """Raised (like pytest.skip) for a check on an RSE in a declared downtime."""


def pytest_addoption(parser):
    parser.getgroup("lakeprobe").addoption("--results-dir", default=os.environ.get("LAKEPROBE_RESULTS_DIR"),
                                           metavar="DIR", help="where run records go (default results/)")


def pytest_configure(config):
    if hasattr(config, "workerinput"):
        config.lake_run_id = config.workerinput["lakeprobe_run_id"]
        return
    config.lake_run_id = new_run_id()
    config.lake_collector = RecordCollector(config)
    config.pluginmanager.register(config.lake_collector, "lakeprobe-records")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    node.workerinput["lakeprobe_run_id"] = node.config.lake_run_id


@pytest.fixture
def record(request) -> Record:
    """The check's record: the test fills in what it probed; the outcome decides the status."""
    suite = Path(str(request.node.fspath)).parent.name
    check = request.node.originalname.removeprefix("test_")
    rec = Record(run_id=request.config.lake_run_id, suite=suite, check=check)
    request.node.lake_record = rec
    return rec


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    rec = getattr(item, "lake_record", None)
    if rec is None or getattr(item, "lake_recorded", False):
        return
    if call.when == "call" or (call.when == "setup" and report.outcome != "passed"):
        _settle(rec, report, call)
        if rec.status in ("fail", "error") and isinstance(getattr(call.excinfo, "value", None), (ProbeFailure, ProbeError)):
            report.longrepr = f"{rec.status} [{rec.error_class}] {rec.message}"  # the finding, not our stack
        item.lake_recorded = True
        report.user_properties.append((_KEY, rec.to_dict()))


def _settle(rec: Record, report, call):
    if not rec.duration_s:
        rec.duration_s = round(report.duration, 4)
    if report.passed:
        rec.status = "warn" if rec.status == "warn" else "pass"
        if rec.status == "pass":
            rec.error_class = rec.message = ""
        return
    exc = call.excinfo.value if call.excinfo else None
    if report.skipped:
        rec.status = "downtime" if isinstance(exc, Downtime) else "skip"
        rec.message = scrub(str(getattr(exc, "msg", exc) or ""))
        return
    if isinstance(exc, ProbeFailure):
        rec.status, rec.error_class = "fail", exc.error_class
    elif isinstance(exc, ProbeError):
        rec.status, rec.error_class = "error", exc.error_class
    else:
        rec.status, rec.error_class = "error", "unknown"
    rec.message = scrub(f"{exc}" if isinstance(exc, (ProbeFailure, ProbeError)) else
                        f"{type(exc).__name__}: {exc}")[:500]


class RecordCollector:
    """Lives in the controller (or the only process): receives every record, writes it, sums it up."""

    def __init__(self, config):
        self.run_id = config.lake_run_id
        self.records: list[Record] = []
        self.results_dir = Path(config.getoption("--results-dir") or RESULTS_DIR)
        self.jsonl = JsonlWriter(self.results_dir, self.run_id)

    def pytest_runtest_logreport(self, report):
        for key, value in report.user_properties:
            if key == _KEY:
                rec = Record(**value)
                self.jsonl.write(rec)
                self.records.append(rec)

    def pytest_terminal_summary(self, terminalreporter):
        if not self.records:
            return
        terminalreporter.section(f"lakeprobe run {self.run_id}")
        for line in summary_table(self.records):
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"records: {self.jsonl.path}")


def summary_table(records: list[Record]) -> list[str]:
    """Rows are RSE/protocol (or TPC pair/mode), columns are checks; cells are statuses."""
    grid, checks = defaultdict(dict), []
    for r in records:
        row = f"{r.rse}->{r.peer}" if r.peer else f"{r.rse} {r.protocol}".strip()
        grid[row][r.check] = r.status + (f":{r.error_class}" if r.error_class else "")
        if r.check not in checks:
            checks.append(r.check)
    width = max(len(r) for r in grid) + 2
    lines = []
    chain_checks = [c for c in checks if any(c in cells for row, cells in grid.items() if "->" not in row)]
    tpc_checks = [c for c in checks if c not in chain_checks]
    for columns, rows in ((chain_checks, [r for r in grid if "->" not in r]), (tpc_checks, [r for r in grid if "->" in r])):
        if not rows:
            continue
        lines.append("".ljust(width) + " ".join(c[:16].ljust(16) for c in columns))
        for row in sorted(rows):
            lines.append(row.ljust(width) + " ".join(grid[row].get(c, "-")[:16].ljust(16) for c in columns))
    counts = defaultdict(int)
    for r in records:
        counts[r.status] += 1
    lines.append(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return lines
