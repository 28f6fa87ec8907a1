"""An XCache (XRootD's proxy, libXrdPss, with its file cache, libXrdPfc) in front of one lab RSE, as sites
without storage of their own and analysis facilities run one: clients read root:// or davs:// from the cache,
which fetches what it does not hold from its origin once and serves it from its own disk after that.

It takes the lake's tokens from its clients as a lab RSE does (TLS, ztn, SciTokens), and reads from its
origin with a token of its own (client `xcache`, read-only on the probe area), as XCache deployments do with
a robot credential: the client's token is not passed on. That token is fetched when the cache starts, and
lives a day: `lab up` again renews it.

Its ports are those of lab RSE number `index` (layout.rse_ports), after every RSE and the cluster.
"""

import json
import os
import shutil

from lab import faults, procs
from lab.clients import AUDIENCE, CLIENTS
from lab.rse import XROOTD_USER, StorageElement
from lakeprobe.tokens import TokenProvider

NAME = "CACHE1"
EVICT_CLIENT = "cache-evict"  # the issuer's client whose token may evict (lab/clients.py)
# The faults a cache takes: stopped; its disk a tiny, filled tmpfs; no route from it to its origin; its
# remove command off (it evicts nothing); XRootD's client defaults towards its origin (a refused origin is
# tried for up to 10 minutes while the reader waits); its patience without its error window (once it gave
# up on its origin, it fails reads for 30 minutes, the origin back or not).
FAULTS = ("down", "full", "no-route-to-RSE", "no-evict", "patient", "stuck-after-outage")
# How long it tries its origin before it answers a client that it cannot (`ConnectTimeout` sets XRootD's
# client's connection window): by default a lost origin gets 5 tries in 120 s windows, and the reader
# waits up to 10 minutes. `patient` writes those defaults out, as a server may inherit other XRD_* settings
# from the process that starts it.
ORIGIN_PATIENCE = {"ConnectTimeout": 1, "ConnectionRetry": 1}
DEFAULT_PATIENCE = {"ConnectTimeout": 120, "ConnectionRetry": 5}
# How long, once it gave up on its origin, it goes on failing reads over the connections that did, the
# origin back or not: XRootD's client's StreamErrorWindow, 1800 s unless set. `pss.setopt ReconnectWait`
# should set it and does not (5.5.3, measured): it is set in the environment.
ERROR_WINDOW_S = 1
RAM = "1g"  # XRootD 5.5's least: less and the file cache does not start


class XCache(StorageElement):
    def __init__(self, layout, index: int, origin: StorageElement):
        super().__init__(layout, index)
        self.name, self.origin = NAME, origin
        self.dir = layout.run_dir / "caches" / self.name

    def config(self) -> str:
        d = self.dir
        lines = [
            "all.export /",
            f"all.adminpath {d}/admin",
            f"all.pidpath {d}/admin",
            f"oss.localroot {d}/data",
            f"xrd.port {self.root_port}",
            *(f"xrd.allow host {name}" for name in self.allowed_hosts()),
            f"xrd.protocol XrdHttp:{self.https_port} libXrdHttp.so",
            "ofs.osslib libXrdPss.so",
            "pss.cachelib libXrdPfc.so",
            f"pss.origin roots://localhost:{self.origin.root_port}",
            *(f"pss.setopt {name} {value}" for name, value in self.patience().items()),
            f"pfc.ram {RAM}",
            "pfc.diskusage 0.90 0.95",
            *(["pfc.allow_xrdpfc_command"] if self.fault != "no-evict" else []),
            *self.tls_lines(),
            *self.authorization_lines(),
        ]
        return "\n".join(lines) + "\n"

    def patience(self) -> dict:
        return DEFAULT_PATIENCE if self.fault == "patient" else ORIGIN_PATIENCE

    @property
    def token_file(self):
        return self.dir / "origin-token"

    def set_fault(self, kind: str):
        if kind and not faults.one_of(kind, FAULTS):
            raise procs.LabError(f"fault {kind!r} is not one a cache takes; it takes: {', '.join(FAULTS)}")
        super().set_fault(kind)

    def inject(self, kind: str):
        """A fault in place of any other (none: healed), the cache restarted with it. Its `full` disk is
        filled once it runs: XCache does not start on less than 10 MB free."""
        self.set_fault(kind)
        self.stop()
        faults.unmount(self.data)
        if kind == "full":
            self.data.mkdir(parents=True, exist_ok=True)
            faults.mount_tmpfs(self.data, "16m")
        self.prepare()
        self.start()
        if kind == "full":
            faults.fill(self.data)

    def start(self, extra_env: dict | None = None):
        if self.fault == "down":
            return
        self.write_origin_token()
        env = {
            **self.client_env(),
            "BEARER_TOKEN_FILE": str(self.token_file),
            **(faults.preloaded_env(self) or {}),
            **(extra_env or {}),
        }
        super().start(env)

    def client_env(self) -> dict:
        """The environment of its XRootD client towards the origin: nothing inherited (XRootD's client lets
        XRD_* variables win over `pss.setopt`, and the process that starts the lab may have set some for its
        own client), and its error window."""
        env: dict = {name: None for name in os.environ if name.startswith("XRD_")}
        if self.fault not in ("patient", "stuck-after-outage"):
            env["XRD_STREAMERRORWINDOW"] = str(ERROR_WINDOW_S)
        return env

    def write_origin_token(self):
        secrets = json.loads(self.layout.clients_file.read_text())
        ca = str(self.layout.pki / "ca.pem")
        tokens = TokenProvider(self.layout.issuer_url, secrets, AUDIENCE, ca, {"xcache": CLIENTS["xcache"][0]})
        self.token_file.unlink(missing_ok=True)
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(tokens.token("xcache"))
        shutil.chown(self.token_file, XROOTD_USER, XROOTD_USER)
