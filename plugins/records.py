"""One result record per check: the `record` fixture, and the status decided from the test's outcome.

The record travels on the test report (attribute `lakeprobe_record`, which pytest-xdist carries to the
controller); the JUnit XML gets its status, class, message and hint as properties; a warn is reported as WARN,
not as a pass, and a downtime as DOWNTIME.
"""

import pytest

from lakeprobe import hints
from lakeprobe.deadline import Interrupted
from lakeprobe.errors import ErrorClass, InDowntime, NotProbed, ProbeError, ProbeFailure, scrub
from lakeprobe.records import Record, Status
from lakeprobe.steps import Steps
from plugins.run import run_state

RECORD = pytest.StashKey[Record]()
SETTLED = pytest.StashKey[bool]()
POSITION = pytest.StashKey[int]()


def pytest_collection_finish(session):
    """Where each check stands in the run: the summary shows its families in this order."""
    for n, item in enumerate(session.items):
        item.stash[POSITION] = n


@pytest.fixture
def record(request) -> Record:
    """The check's record: the test fills in what it probed; the outcome decides the status."""
    state = run_state(request.config)
    if state is None:
        pytest.skip("no lake selected")
    rec = Record(
        run_id=state.run_id,
        suite=request.node.path.parent.name,
        lake=state.lake,
        check=request.node.originalname.removeprefix("test_"),
        run_kind=state.run_kind,
        shard=state.shard_label,
    )
    request.node.stash[RECORD] = rec
    return rec


def note_step(steps: Steps, record: Record, item: pytest.Function):
    """For a step fixture's teardown: how the step `item` ended, for the steps of `steps` behind it."""
    steps.note(item.originalname.removeprefix("test_"), record, item.stash.get(SETTLED, False))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if isinstance(_exception(call), NotProbed):  # what is not tried is skipped, not failed
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {_exception(call)}")
    rec = item.stash.get(RECORD, None)
    if rec is None or item.stash.get(SETTLED, False):
        return report
    if isinstance(_exception(call), Interrupted):  # it did not run to its end: no record says it did
        item.stash[SETTLED] = True
        return report
    if call.when == "call" or (call.when == "setup" and report.outcome != "passed"):
        settle(rec, report, call)
        describe(rec, run_state(item.config))
        if rec.status in (Status.FAIL, Status.ERROR) and isinstance(_exception(call), (ProbeFailure, ProbeError)):
            hint = f"\nhint: {rec.hint}" if rec.hint else ""
            report.longrepr = f"{rec.status} [{rec.error_class}] {rec.message}{hint}"  # the finding, not our stack
        item.stash[SETTLED] = True
        report.lakeprobe_record = rec.to_dict()
        report.lakeprobe_family = [item.path.stem.removeprefix("test_"), item.stash.get(POSITION, 0)]
        # On the item: JUnit XML writes the properties of the test's last report.
        item.user_properties += [
            ("lakeprobe.status", str(rec.status)),
            ("lakeprobe.error_class", str(rec.error_class)),
            ("lakeprobe.message", rec.message),
        ] + ([("lakeprobe.hint", rec.hint)] if rec.hint else [])
    return report


def describe(rec: Record, state):
    """What the storage said it is (heard by the preflight) and, for a finding, what to do about it."""
    if state is None:
        return
    end = hints.acting_end(rec)
    rse = state.inventory.rses.get(end)
    rec.implementation = rec.implementation or state.preflight.get(f"{end}|{rec.protocol}", {}).get(
        "implementation", ""
    )
    if rec.is_finding and not rec.hint:
        endpoint = rse.protocols.get(rec.protocol, "") if rse else ""
        rec.hint = hints.hint_for(rec, rec.implementation, endpoint, rse.prefix if rse else "")


def pytest_report_teststatus(report, config):
    status = (getattr(report, "lakeprobe_record", None) or {}).get("status")
    if status == Status.WARN:
        return "warned", "W", "WARN"
    if status == Status.DOWNTIME:
        return "downtime", "D", "DOWNTIME"
    return None


def _exception(call):
    return call.excinfo.value if call.excinfo else None


def settle(rec: Record, report, call):
    if not rec.duration_s:
        rec.duration_s = round(report.duration, 4)
    exc = _exception(call)
    if report.passed:
        if rec.status != Status.WARN:  # a pass keeps the note its check left (a door's redirect, a count)
            rec.status, rec.error_class = Status.PASS, ErrorClass.NONE
        return
    if report.skipped or isinstance(exc, NotProbed):
        rec.status = Status.DOWNTIME if isinstance(exc, InDowntime) else Status.SKIP
        rec.error_class = ErrorClass.NONE
        rec.message = scrub(str(getattr(exc, "msg", exc) or ""))
        return
    if isinstance(exc, ProbeFailure):
        rec.status, rec.error_class = Status.FAIL, exc.error_class
    elif isinstance(exc, ProbeError):
        rec.status, rec.error_class, rec.blame = Status.ERROR, exc.error_class, exc.blame
    else:
        rec.status, rec.error_class, rec.blame = Status.ERROR, ErrorClass.UNKNOWN, "lakeprobe"
    rec.message = scrub(f"{exc}" if isinstance(exc, (ProbeFailure, ProbeError)) else f"{type(exc).__name__}: {exc}")[
        :500
    ]
