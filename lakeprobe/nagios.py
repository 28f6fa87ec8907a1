"""lakeprobe as a Nagios/Icinga/Checkmk check (the Monitoring Plugins convention): run a suite on one RSE,
then one status line with performance data, the findings as long output, and exit 0/1/2/3 for
OK/WARNING/CRITICAL/UNKNOWN.

Whose finding is it: a finding blamed on the RSE (its own checks, a copy its end broke) counts for its
state; a copy blamed on the pair (which end broke is not known) warns; a finding blamed on a peer is only
listed. A finding blamed on a service or on lakeprobe itself, a user's mistake, a run that could not
start or did not end in time are UNKNOWN: never CRITICAL for the site.
"""

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lakeprobe import paths
from lakeprobe.errors import scrub
from lakeprobe.records import SEVERITY, Record, Status, new_run_id, read_jsonl
from lakeprobe.summary import finding

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
SUITES = ("site", "services", "rucio")
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_LONG_LINES = 40  # findings shown under the status line; the rest are counted
_LINE_CHARS = 300


@dataclass
class Result:
    state: int
    text: str  # the status line's text, after "LAKEPROBE <STATE> - "
    long: list[str] = field(default_factory=list)
    perfdata: list[str] = field(default_factory=list)

    def output(self) -> str:
        """The plugin output: `|` belongs to performance data, so none comes from a storage's words."""
        first = f"LAKEPROBE {STATE_NAMES[self.state]} - {_bounded(self.text)}"
        perf = f" | {' '.join(self.perfdata)}" if self.perfdata else ""
        return "\n".join([first + perf, *(_bounded(line) for line in self.long)])

    def passive(self, host: str, service: str, now: float | None = None) -> str:
        """The external command a passive check submits (Nagios' and Icinga's command pipe)."""
        text = self.output().replace("\n", "\\n")
        return f"[{int(now or time.time())}] PROCESS_SERVICE_CHECK_RESULT;{host};{service};{self.state};{text}"


def judge(records: list[Record], rse: str | None, what: str) -> Result:
    """The state of `rse` (None: the whole suite's targets, e.g. the services) from a run's records."""
    mine = [r for r in records if rse is None or rse in (r.rse, r.peer)]
    if not mine:
        return Result(UNKNOWN, f"{what}: the run wrote no record")
    protocols = sorted({r.protocol for r in mine if r.protocol and r.rse == rse and not r.peer})
    what = " ".join([what, ",".join(protocols)]).strip()
    counted: list[tuple[int, Record]] = []  # (the state it gives the RSE, the finding)
    listed: list[Record] = []  # the peers' findings
    for r in (r for r in mine if r.is_finding):
        given = _state_of(r, rse)
        if given is None:
            listed.append(r)
        else:
            counted.append((given, r))
    counted.sort(key=lambda c: (-_severity(c[0]), _order(c[1])))
    state = counted[0][0] if counted else OK
    ran = [r for r in mine if r.status not in (Status.SKIP, Status.DOWNTIME)]
    if not ran and any(r.status == Status.DOWNTIME for r in mine):
        text = f"{what}: in declared downtime, {len(mine)} checks not run"
    elif not ran:
        state, text = UNKNOWN, f"{what}: nothing was probed, {len(mine)} checks skipped"
    elif state == OK:
        text = f"{what}: {_counts(mine)}" + (f"; {len(listed)} findings of peers" if listed else "")
    else:
        worst = sorted((r for given, r in counted if given == state), key=_order)
        said = ", ".join(_short(r) for r in worst[:3]) + (", ..." if len(worst) > 3 else "")
        if state == UNKNOWN:  # what broke, rather than each check it took down
            said = "not judged, broken: " + ", ".join(sorted({r.blame or "lakeprobe" for r in worst}))
        text = f"{what}: {_counts(mine)}: {said}"
    long: list[str] = []
    for _, r in counted:
        long += [finding(r)] + ([f"  hint: {r.hint}"] if r.hint else [])
    long += [f"{finding(r)} (not counted: the peer's)" for r in sorted(listed, key=_order)]
    if len(long) > _LONG_LINES:
        long = long[:_LONG_LINES] + [f"... and {len(long) - _LONG_LINES} more lines"]
    return Result(state, text, long, _perfdata(mine, rse))


def _state_of(r: Record, rse: str | None) -> int | None:
    if r.status == Status.ERROR:
        return UNKNOWN  # something else than what is probed broke (a service, lakeprobe): it was not judged
    if rse is None or r.blame in ("", rse):
        return CRITICAL if r.status == Status.FAIL else WARNING
    if r.blame == f"{r.rse}->{r.peer}":
        return WARNING  # a copy failed and which end broke is not known
    if r.blame in (r.rse, r.peer):
        return None  # the peer's
    return UNKNOWN


def _severity(state: int) -> int:
    return (OK, WARNING, UNKNOWN, CRITICAL).index(state)  # as Icinga ranks them: UNKNOWN above WARNING


def _order(r: Record):
    return SEVERITY.index(r.status), r.rse, r.peer, r.protocol, r.check


def _counts(records: list[Record]) -> str:
    counts = {s: sum(r.status == s for r in records) for s in SEVERITY}
    if counts[Status.PASS] == len(records):
        return f"{len(records)} checks pass"
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n) + f" of {len(records)} checks"


def _short(r: Record) -> str:
    where = f"{r.rse}->{r.peer}" if r.peer else r.protocol
    return f"{r.check} {where} {r.error_class or r.status}".strip()


def _perfdata(records: list[Record], rse: str | None) -> list[str]:
    """A duration per check that ran (label: protocol_check, or check_source_destination for a copy),
    and the counts of findings, with the minimum 0 that Nagios' graphers expect."""
    perf = []
    for r in records:
        if r.status in (Status.SKIP, Status.DOWNTIME) or r.duration_s <= 0:
            continue
        if r.peer:
            label = f"{r.check}_{r.rse}_{r.peer}"
        elif rse is None:  # a service's check: issuer_jwks, rucio_ping
            label = r.check if r.rse in r.check else f"{r.rse}_{r.check}"
        else:
            label = f"{r.protocol}_{r.check}"
        label = re.sub(r"[^\w.-]", "_", label + (f"_{r.pinned_family}" if r.pinned_family else ""))
        perf.append(f"{label}={r.duration_s:.3f}s;;;0")
    perf += [f"{s}={sum(r.status == s for r in records)};;;0" for s in (Status.FAIL, Status.WARN, Status.ERROR)]
    return perf


def _bounded(line: str) -> str:
    line = line.replace("|", "/").replace("\n", " ").replace("\r", " ")
    return line if len(line) <= _LINE_CHARS else line[: _LINE_CHARS - 3] + "..."


def run_check(suite: str, rse: str | None, pytest_args: list[str], deadline_s: float, results: Path) -> Result:
    """Run `pytest suites/<suite>` as a user would, within the deadline, and judge what it recorded."""
    run_id = new_run_id()
    argv = [sys.executable, "-m", "pytest", str(paths.REPO / "suites" / suite), "-q", "-p", "no:cacheprovider"]
    argv += (["--rse", rse] if rse else []) + pytest_args + ["--run-id", run_id, "--results-dir", str(results)]
    what = rse or suite
    env = {k: v for k, v in os.environ.items() if k not in ("CI_NODE_INDEX", "JOB_COMPLETION_INDEX")}
    proc = subprocess.Popen(
        argv,
        cwd=paths.REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own group, which _stop signals without signalling us
        preexec_fn=_interrupted_with_us,
    )
    grace = min(10.0, deadline_s / 3)  # between asking the run to stop (it removes what it wrote) and a kill
    try:
        _, err = proc.communicate(timeout=deadline_s - grace)
    except subprocess.TimeoutExpired:
        _stop(proc, grace)
        return Result(UNKNOWN, f"{what}: the check did not end within {deadline_s:g} s (-t)")
    jsonl = results / f"{run_id}.jsonl"
    if proc.returncode not in (0, 1) or not jsonl.exists():
        return Result(UNKNOWN, f"{what}: {_reason(err.decode(errors='replace'), proc.returncode)}")
    return judge(read_jsonl(jsonl), rse, what)


def _interrupted_with_us():
    """In the child: Ctrl-C when the plugin dies, as a monitoring that gives up kills it (SIGKILL to its
    group, which the run left): the run then removes what it wrote and ends, rather than go on alone."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGINT)


def _stop(proc: subprocess.Popen, grace: float):
    """Ctrl-C first, so that the run removes what it wrote on the storage; then kill the group."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


def _reason(stderr: str, returncode: int) -> str:
    """pytest's one-line error ("ERROR: unknown RSE X; known: ..."), else what its exit code means."""
    said = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("ERROR:").strip() for line in said if line.startswith(("ERROR:", "lakeprobe:"))]
    if errors:
        return scrub(errors[0])
    meaning = {2: "the run was interrupted", 3: "lakeprobe failed (internal error)", 5: "no check selected"}
    return meaning.get(returncode, f"the run failed (exit {returncode})")
