"""The run's results for Prometheus (lakeprobe/prometheus.py): a node-exporter textfile and a push to a
Pushgateway-compatible endpoint, at the end of the run, after the sinks."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from lakeprobe import prometheus
from lakeprobe.records import Record
from lakeprobe.state import RunState
from lakeprobe.urls import plain_url


def pytest_addoption(parser):
    group = parser.getgroup("lakeprobe-prometheus", "lakeprobe: results for Prometheus")
    group.addoption(
        "--prometheus-push",
        metavar="URL",
        help="push the run's series to this Pushgateway (http://pushgateway:9091), or a server taking its "
        "protocol (VictoriaMetrics: http://vm:8428/api/v1/import/prometheus); group job/lake/shard",
    )
    group.addoption(
        "--prometheus-textfile",
        metavar="PATH",
        help="write the run's series to this file for node-exporter's textfile collector (a *.prom name)",
    )


@dataclass
class Outputs:
    push: str = ""
    textfile: Path | None = None

    @classmethod
    def from_options(cls, config) -> "Outputs":
        """The outputs the options name, checked (pytest.UsageError): before the run, not after it."""
        push, textfile = config.getoption("--prometheus-push"), config.getoption("--prometheus-textfile")
        if push:
            try:
                plain_url(push, ("https", "http"))
            except ValueError as e:  # never repeats a password it refuses
                raise pytest.UsageError(f"--prometheus-push: {e}") from None
        if textfile:
            path = Path(textfile)
            if path.suffix != ".prom":
                raise pytest.UsageError(f"--prometheus-textfile: node-exporter reads only *.prom files, not {path}")
            if not path.parent.is_dir():
                raise pytest.UsageError(f"--prometheus-textfile: no directory {path.parent}")
        return cls(push or "", Path(textfile) if textfile else None)

    def deliver(self, records: list[Record], state: RunState) -> list[str]:
        """One line per output for the run's summary."""
        if not records or not (self.push or self.textfile):
            return []
        text = prometheus.exposition(records, state.lake, state.shard_label)
        lines = []
        if self.textfile:
            try:
                prometheus.write_textfile(self.textfile, text)
                lines.append(f"prometheus textfile {self.textfile}: {len(records)} checks written")
            except OSError as e:
                lines.append(f"prometheus textfile {self.textfile}: not written ({e.strerror or e})")
        if self.push:
            lines.append(prometheus.push(self.push, text, state.lake, state.shard_label, state.options.timeout))
        return lines
