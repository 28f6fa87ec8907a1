"""Records go to the sinks at the end of the run, in the controller: InfluxDB and/or SQL, chosen by options
or by the inventory's `influxdb:` and `postgres:` sections (the lab's inventory names the lab's), besides the
JSONL that is always written. A sink that is down costs nothing but a spool file (lakeprobe/sinks.py)."""
import pytest

from lakeprobe.sinks import SinkSpec, deliver


def pytest_addoption(parser):
    group = parser.getgroup("lakeprobe-sinks", "lakeprobe: where records go besides results/*.jsonl")
    group.addoption("--influxdb", metavar="URL", help="InfluxDB base URL (with --influxdb-database: v1 /write; "
                    "with --influxdb-bucket and --influxdb-org: the v2 write API)")
    group.addoption("--influxdb-database", metavar="DB", help="InfluxDB 1.x database")
    group.addoption("--influxdb-bucket", metavar="BUCKET", help="InfluxDB 2.x/3.x bucket")
    group.addoption("--influxdb-org", metavar="ORG", default="", help="InfluxDB 2.x/3.x organisation")
    group.addoption("--sql", metavar="URL", help="PostgreSQL URL, postgresql://user@host:port/db (password: PGPASSWORD)")
    group.addoption("--no-sinks", action="store_true", help="only the JSONL, whatever the inventory names")


def sink_specs(config) -> list[SinkSpec]:
    opt = config.getoption
    if opt("--no-sinks"):
        return []
    selection = getattr(config, "lake_selection", None)
    services = selection.inventory.services if selection else {}
    specs = []
    influx = {"url": opt("--influxdb"), "database": opt("--influxdb-database"), "bucket": opt("--influxdb-bucket"),
              "org": opt("--influxdb-org")} if opt("--influxdb") else services.get("influxdb")
    if influx:
        kind = "influxdb-v2" if influx.get("bucket") else "influxdb-v1"
        specs.append(SinkSpec(kind, influx["url"], influx.get("database") or "", influx.get("org") or "",
                              influx.get("bucket") or ""))
    sql = opt("--sql") or (services.get("postgres") or {}).get("url")
    if sql:
        specs.append(SinkSpec("sql", sql))
    return specs


@pytest.hookimpl(trylast=True)  # after the lake is selected and the record collector exists
def pytest_configure(config):
    if hasattr(config, "workerinput") or not hasattr(config, "lake_collector"):
        return
    try:
        specs = sink_specs(config)
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None
    if specs:
        config.pluginmanager.register(SinkDelivery(config, specs), "lakeprobe-sinks")


class SinkDelivery:
    def __init__(self, config, specs):
        self.config, self.specs, self.outcomes = config, specs, []
        self.results_dir = config.lake_collector.results_dir

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session):
        records = self.config.lake_collector.records
        self.outcomes = [(spec, *deliver(spec, records, self.results_dir)) for spec in self.specs]

    @pytest.hookimpl(trylast=True)  # below the run's summary table
    def pytest_terminal_summary(self, terminalreporter):
        for spec, delivered, spooled, error in self.outcomes:
            line = f"{spec.name}: {delivered} records written"
            if error:
                line += f"; {spooled} spooled for `lakeprobe results replay` ({error})"
            terminalreporter.write_line(line)
