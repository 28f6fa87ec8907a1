"""Steps of a chain (suites/site's storage chain, suites/rucio's): a step whose prerequisite did not pass is
skipped, naming the root cause, not the step before it."""

from lakeprobe.errors import NotProbed
from lakeprobe.records import Record, Status


class Steps:
    def __init__(self):
        self.outcomes: dict[str, str] = {}  # step -> "" when it passed, else the root cause

    def needs(self, *steps: str):
        for step in steps:
            if step not in self.outcomes:
                raise NotProbed(f"not tried: needs {step}, which did not run (select it too)")
            if self.outcomes[step]:
                raise NotProbed(f"not tried: {self.outcomes[step]}")

    def note(self, step: str, record: Record, settled: bool):
        """How the step ended, once its record is settled, for the steps behind it."""
        if not settled:
            self.outcomes[step] = f"{step} did not finish"
        elif record.status in (Status.PASS, Status.WARN):
            self.outcomes[step] = ""
        elif record.status in (Status.SKIP, Status.DOWNTIME):
            self.outcomes[step] = record.message.removeprefix("not tried: ")  # the root cause, passed on
        else:
            what = "failed" if record.status == Status.FAIL else "could not be checked"
            self.outcomes[step] = f"{step} {what} ({record.error_class}): {record.message[:160]}"
