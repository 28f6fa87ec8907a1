"""Where records go besides results/<run id>.jsonl: InfluxDB and/or SQL, chosen by options or by the
inventory's `influxdb:` and `postgres:` sections (the lab's inventory names the lab's). A sink that is down
costs nothing but a spool file (lakeprobe/sinks.py)."""

import pytest

from lakeprobe.records import Record
from lakeprobe.sinks import SinkSpec
from lakeprobe.sinks import deliver as deliver_to
from lakeprobe.state import RunState


def pytest_addoption(parser):
    group = parser.getgroup("lakeprobe-sinks", "lakeprobe: where records go besides results/*.jsonl")
    group.addoption(
        "--influxdb",
        metavar="URL",
        help="InfluxDB base URL (with --influxdb-database: v1 /write; "
        "with --influxdb-bucket and --influxdb-org: the v2 write API)",
    )
    group.addoption("--influxdb-database", metavar="DB", help="InfluxDB 1.x database")
    group.addoption("--influxdb-bucket", metavar="BUCKET", help="InfluxDB 2.x/3.x bucket")
    group.addoption("--influxdb-org", metavar="ORG", default="", help="InfluxDB 2.x/3.x organisation")
    group.addoption(
        "--sql", metavar="URL", help="PostgreSQL URL, postgresql://user@host:port/db (password: PGPASSWORD)"
    )
    group.addoption("--no-sinks", action="store_true", help="only the JSONL, whatever the inventory names")


def specs(config, state: RunState) -> list[SinkSpec]:
    opt, inventory = config.getoption, state.inventory
    if opt("--no-sinks"):
        return []
    found = []
    try:
        if opt("--influxdb"):
            kind = "influxdb-v2" if opt("--influxdb-bucket") else "influxdb-v1"
            found.append(
                SinkSpec(
                    kind,
                    opt("--influxdb"),
                    opt("--influxdb-database") or "",
                    opt("--influxdb-org") or "",
                    opt("--influxdb-bucket") or "",
                )
            )
        elif inventory.influxdb:
            i = inventory.influxdb
            found.append(SinkSpec("influxdb-v2" if i.bucket else "influxdb-v1", i.url, i.database, i.org, i.bucket))
        sql = opt("--sql") or (inventory.postgres.url if inventory.postgres else None)
        if sql:
            found.append(SinkSpec("sql", sql))
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None
    return found


def deliver(specs: list[SinkSpec], records: list[Record], state: RunState) -> list[str]:
    """One line per sink for the run's summary."""
    lines = []
    for spec in specs:
        delivered, spooled, error = deliver_to(spec, records, state.results_dir)
        line = f"{spec.name}: {delivered} records written"
        if error:
            line += f"; {spooled} spooled for `lakeprobe results replay` ({error})"
        lines.append(line)
    return lines
