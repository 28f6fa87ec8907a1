"""Where records go besides results/<run id>.jsonl: InfluxDB, SQL databases and CERN MONIT, chosen by options
or by the inventory's `influxdb:`, `sql:` and `postgres:` sections (the lab's inventory names the lab's). A
sink that is down costs nothing but a spool file (lakeprobe/sinks.py)."""

from urllib.parse import urlsplit

import pytest

from lakeprobe.inventory import Inventory
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
        "--sql",
        metavar="URL",
        help="SQL database, a SQLAlchemy URL: postgresql://user@host:port/db, mysql+pymysql://..., "
        "oracle+oracledb://... (password: LAKEPROBE_SQL_PASSWORD, or PostgreSQL's PGPASSWORD/~/.pgpass)",
    )
    group.addoption(
        "--monit",
        metavar="URL",
        help="CERN MONIT HTTP JSON endpoint, e.g. https://monit-metrics.cern.ch:10014/PRODUCER "
        "(password: LAKEPROBE_MONIT_PASSWORD)",
    )
    group.addoption(
        "--monit-producer", metavar="NAME", help="MONIT producer (default: the last part of the --monit URL's path)"
    )
    group.addoption(
        "--monit-type", metavar="TYPE", default="lakeprobe_check", help="MONIT document type (default lakeprobe_check)"
    )
    group.addoption("--no-sinks", action="store_true", help="only the JSONL, whatever the inventory names")


def specs(config, inventory: Inventory) -> list[SinkSpec]:
    opt = config.getoption
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
        sections = [inventory.sql, inventory.postgres]  # `postgres:` is the older name of `sql:`
        urls = [opt("--sql")] if opt("--sql") else [s.url for s in sections if s]
        found += [SinkSpec("sql", url) for url in dict.fromkeys(urls)]
        if opt("--monit"):
            producer = opt("--monit-producer") or urlsplit(opt("--monit")).path.strip("/").rsplit("/", 1)[-1]
            found.append(SinkSpec("monit", opt("--monit"), producer=producer, doc_type=opt("--monit-type")))
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
