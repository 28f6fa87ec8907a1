"""InfluxDB (Debian's 1.x) with a `lakeprobe` database for results, on loopback only."""

import requests

from lab import procs
from lab.layout import Layout

DATABASE = "lakeprobe"


class InfluxDB:
    name = "influxdb"

    def __init__(self, layout: Layout):
        self.layout, self.dir = layout, layout.component_dir("influxdb")
        self.port, self.url = layout.port("influxdb"), layout.influxdb_url
        self.pid_file, self.log_file = self.dir / "influxd.pid", self.dir / "influxd.log"

    def start(self):
        if self.up():
            return
        d = self.dir
        (d / "influxdb.conf").write_text(f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.layout.port("influxdb-rpc")}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
""")
        procs.start(["influxd", "-config", str(d / "influxdb.conf")], pid_file=self.pid_file, log_file=self.log_file)
        procs.wait_port(self.port, what="InfluxDB", pid_file=self.pid_file, log_file=self.log_file)
        requests.post(f"{self.url}/query", data={"q": f"CREATE DATABASE {DATABASE}"}, timeout=10).raise_for_status()

    def stop(self):
        procs.stop(self.pid_file)
        procs.wait_port_closed(self.port)

    def up(self) -> bool:
        try:
            return requests.get(f"{self.url}/ping", timeout=2).status_code == 204
        except requests.RequestException:
            return False
