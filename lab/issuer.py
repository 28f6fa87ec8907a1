"""The lab's token issuer: lab/issuer/issuer.mjs (npm oidc-provider) over HTTPS with the lab certificate."""

import json
import shutil
from pathlib import Path

from lab import clients, pki, procs
from lab.layout import Layout

ISSUER_DIR = Path(__file__).parent / "issuer"


class Issuer:
    name = "issuer"

    def __init__(self, layout: Layout):
        self.layout, self.dir = layout, layout.component_dir("issuer")
        self.pid_file, self.log_file = self.dir / "issuer.pid", self.dir / "issuer.log"
        self.url, self.port = layout.issuer_url, layout.port("issuer")

    def start(self):
        if self.up():
            return
        if not (ISSUER_DIR / "node_modules" / "oidc-provider").exists():
            raise procs.LabError("the issuer's npm packages are missing: run `make bootstrap`")
        key = self.dir / "host.key"
        key.unlink(missing_ok=True)
        shutil.copy(self.layout.pki / "host.key", key)
        config = {
            "issuer": self.url,
            "port": self.port,
            "audience": clients.AUDIENCE,
            "cert": str(self.layout.pki / "host.pem"),
            "key": str(key),
            "signing_jwks": [str(self.layout.pki / name) for name in pki.SIGNING_JWKS],
            "clients": clients.load_or_create(self.layout.clients_file),
            "ready_file": str(self.dir / "ready"),
        }
        config_file = self.dir / "issuer.json"
        config_file.write_text(json.dumps(config))
        config_file.chmod(0o600)
        procs.start(
            ["node", str(ISSUER_DIR / "issuer.mjs"), str(config_file)],
            pid_file=self.pid_file,
            log_file=self.log_file,
            env={"NODE_ENV": "production"},
        )
        procs.wait_port(self.port, what="token issuer", pid_file=self.pid_file, log_file=self.log_file)

    def stop(self):
        procs.stop(self.pid_file)

    def up(self) -> bool:
        return procs.pid_of(self.pid_file) is not None and procs.port_open(self.port)
