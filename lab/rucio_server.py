"""A real Rucio server (PyPI rucio under gunicorn) on the lab's PostgreSQL, and the lab's catalogue in it:
every lab RSE with both protocols, attributes, distances, a probe account with limits, and a probe scope.

Tokens, as a token-based lake does it: the server accepts the lab issuer's JWTs from clients (the probe's
token is the probe account's identity, `SUB=probe, ISS=<issuer>`), and Rucio's daemons get their own tokens
from the issuer with Rucio's `rucio` client (`[oidc] idpsecrets`, `admin_issuer`) to delete on the RSEs."""

import itertools
import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import requests

from lab import clients, procs
from lab.broker import PASSWORD as BROKER_PASSWORD
from lab.broker import USER as BROKER_USER
from lab.layout import Layout
from lakeprobe.paths import REPO

SERVER_VENV = REPO / ".venv-rucio-server"
PROBE_ACCOUNT, PROBE_SCOPE = "lakeprobe", "lakeprobe"
# Upload RSEs of a lake are often non-deterministic: a file's path is given, not derived from its name.
NON_DETERMINISTIC = "XRD3"
ISSUER_ID = "lab"


class RucioServer:
    name = "rucio"

    def __init__(self, layout: Layout):
        self.layout, self.dir = layout, layout.component_dir("rucio")
        self.port, self.url = layout.port("rucio"), layout.rucio_url
        self.pid_file, self.log_file = self.dir / "gunicorn.pid", self.dir / "gunicorn.log"
        self.server_cfg, self.client_cfg = self.dir / "rucio-server.cfg", self.dir / "rucio.cfg"
        self.admin_cfg = self.dir / "rucio-admin.cfg"

    def _secrets(self) -> dict:
        path = self.dir / "secrets.json"
        if not path.exists():
            path.write_text(json.dumps({"root": secrets.token_urlsafe(18), PROBE_ACCOUNT: secrets.token_urlsafe(18)}))
            path.chmod(0o600)
        return json.loads(path.read_text())

    def _write_configs(self):
        pw, d, port = self._secrets(), self.dir, self.layout.port
        self.server_cfg.write_text(f"""[common]
logdir = {d}
loglevel = WARNING
[database]
default = postgresql+psycopg://postgres@127.0.0.1:{port("postgres")}/rucio
pool_size = 10
[bootstrap]
userpass_identity = root
userpass_pwd = {pw["root"]}
userpass_email = root@lab.invalid
[alembic]
cfg = {d}/alembic.ini
[api]
endpoints_add = traces
[policy]
permission = generic
schema = generic
lfn2pfn_algorithm_default = hash
support = lakeprobe lab
support_rucio = lakeprobe lab
[monitor]
enable_metrics = False
[trace]
tracedir = {d}/traces
brokers = 127.0.0.1
port = {port("stomp")}
topic = /topic/rucio.traces
username = {BROKER_USER}
password = {BROKER_PASSWORD}
broker_virtual_host = /
[messaging-hermes]
brokers = 127.0.0.1
nonssl_port = {port("stomp")}
port = {port("stomp")}
use_ssl = False
username = {BROKER_USER}
password = {BROKER_PASSWORD}
destination = /topic/rucio.events
broker_virtual_host = /
voname = lab
[hermes]
services_list = activemq
[oidc]
idpsecrets = {d}/idpsecrets.json
admin_issuer = {ISSUER_ID}
expected_audience = {clients.AUDIENCE}
expected_scope = storage.read:{clients.RUCIO_PROBE_AREA}
""")
        self._write_idpsecrets()
        (d / "alembic.ini").write_text(
            f"[alembic]\nscript_location = {_server_site_packages()}/rucio/db/sqla/migrate_repo\n"
            f"sqlalchemy.url = postgresql+psycopg://postgres@127.0.0.1:{port('postgres')}/rucio\n"
            "[loggers]\nkeys = root\n[handlers]\nkeys = console\n[formatters]\nkeys = generic\n"
            "[logger_root]\nlevel = WARN\nhandlers = console\n[handler_console]\nclass = StreamHandler\n"
            "args = (sys.stderr,)\nformatter = generic\n[formatter_generic]\nformat = %(message)s\n"
        )
        # Each account its own config and token cache: a shared cache file makes one account act as another.
        for cfg, account in ((self.client_cfg, PROBE_ACCOUNT), (self.admin_cfg, "root")):
            cfg.write_text(f"""[client]
rucio_host = {self.url}
auth_host = {self.url}
auth_type = userpass
account = {account}
username = {account}
password = {pw[account]}
ca_cert = {self.layout.pki / "ca.pem"}
auth_token_file_path = {d}/client-tokens/{account}/auth_token
request_retries = 2
""")
        for cfg in (self.server_cfg, self.client_cfg, self.admin_cfg):
            cfg.chmod(0o600)
        shutil.rmtree(d / "client-tokens", ignore_errors=True)

    def start(self):
        if self.up():
            return
        self._write_configs()
        (self.dir / "traces").mkdir(exist_ok=True)
        env = self.environment()
        marker = self.dir / "catalogue-created"
        if not marker.exists():
            result = subprocess.run(
                [str(SERVER_VENV / "bin/python"), str(Path(__file__).parent / "rucio_bootstrap.py")],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise procs.LabError(f"Rucio schema bootstrap failed: {result.stderr.strip().splitlines()[-1:]}")
            marker.touch()
        procs.start(
            [
                str(SERVER_VENV / "bin/gunicorn"),
                "--no-control-socket",
                "-b",
                f"127.0.0.1:{self.port}",
                "-w",
                "2",
                "--timeout",
                "60",
                "rucio.web.rest.flaskapi.v1.main:application",
            ],
            pid_file=self.pid_file,
            log_file=self.log_file,
            env=env,
            cwd=self.dir,
        )
        procs.wait_port(self.port, what="Rucio server", pid_file=self.pid_file, log_file=self.log_file)
        self._wait_ping()

    def environment(self) -> dict:
        """What the server and its daemons run with: their config, and trust in the lab's CA (the issuer's
        discovery and keys over HTTPS with requests; the RSEs through gfal2/davix and XrdCl)."""
        ca = str(self.layout.pki / "ca.pem")
        return {
            "RUCIO_CONFIG": str(self.server_cfg),
            "REQUESTS_CA_BUNDLE": ca,
            "SSL_CERT_FILE": ca,
            "X509_CERT_DIR": str(self.layout.ca_dir),
        }

    def _write_idpsecrets(self):
        secret = json.loads((self.layout.clients_file).read_text())["rucio"]
        rucio = {"client_id": "rucio", "client_secret": secret, "issuer": self.layout.issuer_url}
        path = self.dir / "idpsecrets.json"
        path.write_text(
            json.dumps({ISSUER_ID: {**rucio, "redirect_uris": [f"{self.url}/auth/oidc_token"], "SCIM": rucio}})
        )
        path.chmod(0o600)

    def _wait_ping(self, timeout: float = 30.0):
        # gunicorn binds before its workers have imported Rucio: ready means /ping answers.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/ping", timeout=5).ok:
                    return
            except requests.RequestException:
                pass
            if procs.pid_of(self.pid_file) is None:
                break
            time.sleep(0.1)
        raise procs.LabError(f"Rucio server did not answer /ping (see {self.log_file})")

    def stop(self):
        procs.stop(self.pid_file)
        procs.wait_port_closed(self.port)

    def up(self) -> bool:
        return procs.pid_of(self.pid_file) is not None and procs.port_open(self.port)

    def admin_client(self):
        """A rucio-clients Client logged in as root, for the lab's own administration."""
        os.environ["RUCIO_CONFIG"] = str(self.admin_cfg)
        from rucio.client import Client

        return Client(logger=_quiet_logger())

    def register(self, rses):
        """Make the catalogue match the lab: idempotent, so `lab up` twice changes nothing."""
        from rucio.common.exception import Duplicate

        admin = self.admin_client()

        def once(call, *args, **kwargs):
            try:
                call(*args, **kwargs)
            except Duplicate:
                pass

        once(admin.add_account, PROBE_ACCOUNT, "SERVICE", "lakeprobe@lab.invalid")
        once(
            admin.add_identity,
            PROBE_ACCOUNT,
            PROBE_ACCOUNT,
            "USERPASS",
            "lakeprobe@lab.invalid",
            password=self._secrets()[PROBE_ACCOUNT],
        )
        once(
            admin.add_identity,
            PROBE_ACCOUNT,
            f"SUB=probe, ISS={self.layout.issuer_url}",
            "OIDC",
            "lakeprobe@lab.invalid",
            default=True,
        )
        once(admin.add_scope, PROBE_ACCOUNT, PROBE_SCOPE)
        # The generic policy lets only admins register replicas on RSEs without a *SCRATCHDISK-like name.
        once(admin.add_account_attribute, PROBE_ACCOUNT, "admin", "True")
        known = {r["rse"] for r in admin.list_rses()}
        for rse in rses:
            deterministic = rse.name != NON_DETERMINISTIC
            if rse.name not in known:
                admin.add_rse(rse.name, deterministic=deterministic)
            registered = {p["scheme"]: p for p in admin.get_protocols(rse.name)} if rse.name in known else {}
            for scheme, port, impl, priority in (
                ("davs", rse.https_port, "gfal.Default", 1),
                ("root", rse.root_port, "xrootd.Default", 2),
            ):
                protocol = _protocol(scheme, port, f"rucio.rse.protocols.{impl}", priority)
                if scheme not in registered:
                    admin.add_protocol(rse.name, protocol)
                elif registered[scheme]["prefix"] != protocol["prefix"]:  # a lab made before it was changed
                    admin.update_protocols(rse.name, scheme, {"prefix": protocol["prefix"]}, "localhost", port)
            attributes = {
                **{"lab": True, "site": rse.name, "tpc_root": True, "tpc_davs": True},
                # The reaper asks the issuer for a token to delete over davs, and deletes whatever is due.
                **{"oidc_support": True, "greedyDeletion": True},
            }
            admin.update_rse(rse.name, {"deterministic": deterministic})  # a lab made before it was chosen
            for key, value in attributes.items():
                admin.add_rse_attribute(rse.name, key, value)
            admin.set_local_account_limit(PROBE_ACCOUNT, rse.name, 10 * 1024**3)
        for src, dst in itertools.permutations([r.name for r in rses], 2):
            once(admin.add_distance, src, dst, {"distance": 1})


def _protocol(scheme: str, port: int, impl: str, priority: int) -> dict:
    ops = {"read": priority, "write": priority, "delete": priority}
    return {
        "scheme": scheme,
        "hostname": "localhost",
        "port": port,
        # root:// paths are absolute after the host's slash (root://host:port//path): a prefix without the
        # second slash makes relative paths, which XRootD refuses ("Stating relative path ... is disallowed").
        "prefix": ("/" if scheme == "root" else "") + clients.RUCIO_PREFIX,
        "impl": impl,
        "domains": {"lan": ops, "wan": {**ops, "third_party_copy_read": priority, "third_party_copy_write": priority}},
    }


def _server_site_packages() -> str:
    return next(str(p) for p in (SERVER_VENV / "lib").glob("python3*/site-packages"))


def _quiet_logger():
    import logging

    logger = logging.getLogger("lakeprobe.lab.rucio")
    logger.setLevel(logging.WARNING)
    return logger
