"""The end of a run, in the process that started it (the only process, or the xdist controller): every
record is collected as its check reports; at the end, in this order, blame is decided over the whole run,
the run's JSONL is rewritten with it, the run's directories are removed from the storage, the records go
to the sinks, Prometheus and chat, and the terminal gets one summary that fits its width.

Ctrl-C ends the run the same way (what ran is recorded and cleaned up), with one line instead of pytest's
KeyboardInterrupt traceback.
"""

import shutil

import pytest

from lakeprobe import blame, deadline, events, summary, throughput
from lakeprobe.records import JsonlWriter, Record
from lakeprobe.state import RunState
from plugins import chat, cleanup, progress, prometheus, sinks
from plugins.records import describe
from plugins.run import runs_suite


class RoundPlugin:
    def __init__(self, config, state: RunState):
        self.config, self.state = config, state
        self.records: list[Record] = []
        self.families: dict[str, str] = {}  # check -> its family (the test module)
        self.positions: dict[str, int] = {}  # family -> where its first check stands in the run
        self.jsonl = JsonlWriter(state.results_dir, state.run_id)
        self.watcher = progress.Watcher(config, state, "running")
        self.sink_specs = sinks.specs(config, state.inventory)  # checked before the run (plugins/lake.py start)
        self.prometheus = prometheus.Outputs.from_options(config)
        self.chat = chat.Notifier.from_options(config, state)
        self.lines: list[str] = []
        broker = state.inventory.broker
        # Subscribed before any check runs: the Rucio suite's rules are announced while it runs.
        self.listener = (
            events.Listener(broker, state.options.timeout) if broker and runs_suite(config, "rucio") else None
        )

    def pytest_sessionstart(self, session):
        if self.listener:
            self.listener.start()
        self.watcher.start()

    def pytest_runtest_logreport(self, report):
        found = getattr(report, "lakeprobe_record", None)
        if found:
            record = Record.from_dict(found)
            self.jsonl.write(record)
            self.records.append(record)
            family, position = getattr(report, "lakeprobe_family", (record.suite, 0))
            self.families.setdefault(record.check, family)
            self.positions[family] = min(position, self.positions.get(family, position))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        self.watcher.stop()
        deadline.interrupted.clear()  # the cleanup below must not be abandoned too
        judged = throughput.judge(self.records, self.state.options.slow_floor)
        heard = events.judge(self.records, self.listener)
        if self.listener:
            self.listener.stop()
        for record in judged + heard:
            self.jsonl.write(record)
        self.records += judged + heard
        self.families[throughput.CHECK] = throughput.CHECK
        self.positions[throughput.CHECK] = len(self.records)  # last: judged over the others
        self.families[events.CHECK] = "rucio"  # with the services suite's other Rucio checks
        blame.assign(self.records)
        for record in judged + heard:  # the checks' own records got theirs as they settled
            describe(record, self.state)
        if self.records:
            self.jsonl.rewrite(self.records)
        self.lines.append(cleanup.remove_run_directories(self.state, self.config))
        self.lines += sinks.deliver(self.sink_specs, self.records, self.state)
        self.lines += self.prometheus.deliver(self.records, self.state)
        if self.chat:
            self.lines.append(self.chat.notify(self.records))
        self.state.remove_shared_dir()

    def pytest_unconfigure(self, config):
        self.state.remove_shared_dir()  # when the session never finished

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter):
        width = min(shutil.get_terminal_size((100, 24)).columns, 160)
        run = f"run {self.state.run_id} ({self.state.run_kind}), lake {self.state.lake}"
        terminalreporter.section("lakeprobe", sep="=")
        terminalreporter.write_line(run)
        order = sorted(self.positions, key=self.positions.__getitem__)
        for line in summary.lines(self.records, self.families, width, order):
            terminalreporter.write_line(line)
        if self.records:
            terminalreporter.write_line(f"records: {self.jsonl.path}")
        for line in filter(None, self.lines):
            terminalreporter.write_line(line)
