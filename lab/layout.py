"""Where the lab keeps its files and which loopback ports its components use.

Ports are laid out from one base port (LAKEPROBE_LAB_BASE_PORT, default 20000) so two labs on one machine
only need different bases: services at base+0..9, RSE number i at base+100+10*(i-1) (root) and +1 (https).
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

from lakeprobe.paths import default_lab_dir, walkable

DEFAULT_BASE_PORT = 20000
MAX_RSES = 50
PORTS_PER_RSE = 10  # a block per RSE: a single server uses two, a cluster one per node and its cmsd

SERVICE_PORTS = {
    "issuer": 0,
    "rucio": 1,
    "influxdb": 2,
    "influxdb-rpc": 3,
    "postgres": 4,
    "stomp": 5,
    "amqp": 6,
    "broker-dist": 7,
    "epmd": 8,
}


def rse_name(i: int) -> str:
    return f"XRD{i}"


def default_run_dir() -> Path:
    return default_lab_dir()


@dataclass(frozen=True)
class Layout:
    run_dir: Path
    base_port: int

    @classmethod
    def from_env(cls, run_dir: str | None = None, base_port: int | None = None) -> "Layout":
        run = Path(run_dir or os.environ.get("LAKEPROBE_LAB_DIR") or default_run_dir()).resolve()
        saved = run / "lab.json"
        if base_port is None and saved.exists():
            base_port = json.loads(saved.read_text())["base_port"]
        if base_port is None:
            base_port = int(os.environ.get("LAKEPROBE_LAB_BASE_PORT", DEFAULT_BASE_PORT))
        return cls(run, base_port)

    def reachable_by_others(self) -> bool:
        return walkable(self.run_dir)

    def port(self, service: str) -> int:
        return self.base_port + SERVICE_PORTS[service]

    def rse_ports(self, i: int) -> tuple[int, int]:
        root = self.base_port + 100 + PORTS_PER_RSE * (i - 1)
        return root, root + 1

    @property
    def pki(self) -> Path:
        return self.run_dir / "pki"

    @property
    def ca_dir(self) -> Path:
        return self.pki / "certificates"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "lab.json"

    @property
    def clients_file(self) -> Path:
        """The issuer's clients and their secrets (mode 600): the probes read it, and so does Rucio."""
        return self.run_dir / "clients.json"

    @property
    def inventory(self) -> Path:
        """Where the suites find the lab (lakeprobe.paths.lab_inventory): written by `up`, removed by `down`."""
        return self.run_dir / "inventory.yaml"

    @property
    def issuer_url(self) -> str:
        return f"https://localhost:{self.port('issuer')}"

    @property
    def rucio_url(self) -> str:
        return f"http://127.0.0.1:{self.port('rucio')}"

    @property
    def influxdb_url(self) -> str:
        return f"http://127.0.0.1:{self.port('influxdb')}"

    @property
    def broker_url(self) -> str:
        return f"stomp://127.0.0.1:{self.port('stomp')}"

    @property
    def postgres_url(self) -> str:
        return f"postgresql://lakeprobe@127.0.0.1:{self.port('postgres')}/lakeprobe"

    def component_dir(self, name: str) -> Path:
        d = self.run_dir / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def read_state(self) -> dict:
        return json.loads(self.state_file.read_text()) if self.state_file.exists() else {}

    def write_state(self, state: dict):
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(state, indent=1))
