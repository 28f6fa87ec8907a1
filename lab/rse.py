"""One lab storage element: an XRootD server with root:// and davs:// on one instance, lab-CA TLS,
adler32, HTTP and root:// third-party copy, and token authorization (SciTokens over https, ztn over root).

The configuration is rendered from the RSE's current fault (none when healthy), so injecting a fault that
lives in the configuration is a restart with another rendering; see lab/faults.py for the rest.
"""

import base64
import json
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

from lab import pki, procs, voms
from lab.clients import AUDIENCE, EMBARGO_DIR, GROUP_DIR, PROBE_GROUP, PROBE_PREFIX, RUCIO_AUDIENCE
from lab.layout import Layout, rse_name

XROOTD_USER = "xrootd"
# A request its token's scopes do not allow goes on to the authdb (scitokens `onmissing = passthrough`), which
# grants the group area to the probers' group (SciTokens hands the token's wlcg.groups on as the request's
# groups), and nothing else. The passthrough faults' authdbs also grant these privileges on the probe area to
# everyone; the no-groups fault refuses what the scopes do not allow (`onmissing = deny`), groups unasked.
# Over https, a client certificate's VOMS attributes are its groups too (XrdHttp's VOMS extractor): the lab VO
# may read and write the probe area; the x509-other-vo fault grants it to another VO the lab also trusts.
GROUP_GRANT = f"g {PROBE_GROUP} {GROUP_DIR} a\ng /{voms.VO} {PROBE_PREFIX} a\n"
PASSTHROUGH_GRANTS = {"passthrough-read": "rl", "passthrough-all": "a"}
OTHER_VO_GRANT = f"g /{voms.OTHER_VO} {PROBE_PREFIX} a\n"
# The x509-any-proxy fault: authorization by the certificate's DN (a grid-mapfile), as before VOMS, whatever
# attributes its proxy holds or lacks.
MAPPED_USER = "labuser"
MAPPED_USER_GRANT = f"u {MAPPED_USER} {PROBE_PREFIX} a\n"
# The faults the scope-boundary wrapper makes, by the parameter that makes each (lab/xrootd/scope_boundary.cc).
WRAPPER_FAULTS = {"single-audience": " single_audience", "trailing-slash": " keep_trailing_slash"}
SCOPE_BOUNDARY_SOURCE = Path(__file__).parent / "xrootd" / "scope_boundary.cc"
SLOW_RATE_BPS = 65536  # the `slow` fault: 64 KiB/s, a 1 MiB transfer takes about 16 s
# Checksum jobs XRootD runs at once. With 5.5.3's default of 4, more queued checksums whose clients then
# went away (a deadline) leave the checksum queue stuck for good: every later checksum, root:// or davs,
# never answers while stat and reads still do. A lab round asks for far fewer than 64 at a time.
CHECKSUM_JOBS = 64
# XRootD's last line of its start-up: it serves from then on (its ports are open well before).
READY = r"^------ xrootd \S+ initialization completed\."


class StorageElement:
    """`checksum` and `certificate` make a healthy storage configured unlike the lab's others, as real lakes
    have them: another checksum algorithm (md5, crc32c), or a certificate from a CA the probes do not know
    ("foreign"); `tls=False` one that offers no TLS at all (its "https" port speaks plain HTTP) and so takes no tokens
    (XRootD's ztn requires TLS); `audiences` the token audiences it takes instead of the lake's and Rucio's
    (its own, `own_audience`, for the WLCG profile's per-endpoint form)."""

    def __init__(
        self,
        layout: Layout,
        index: int,
        checksum: str = "adler32",
        certificate: str = "host",
        tls: bool = True,
        audiences: tuple[str, ...] = (AUDIENCE, RUCIO_AUDIENCE),
    ):
        self.layout, self.index, self.name = layout, index, rse_name(index)
        self.checksum, self.certificate, self.tls, self.audiences = checksum, certificate, tls, audiences
        self.dir = layout.run_dir / "rses" / self.name
        self.root_port, self.https_port = layout.rse_ports(index)

    # -- where things are ---------------------------------------------------------------------------
    data = property(lambda self: self.dir / "data")
    pid_file = property(lambda self: self.dir / "xrootd.pid")
    log_file = property(lambda self: self.dir / "xrootd.log")
    fault_file = property(lambda self: self.dir / "fault")
    root_url = property(lambda self: f"root://localhost:{self.root_port}/")
    davs_url = property(lambda self: f"davs://localhost:{self.https_port}/")
    own_audience = property(lambda self: f"https://localhost:{self.https_port}")

    def allowed_hosts(self) -> list[str]:
        """The clients XRootD admits (`xrd.allow host` admits the addresses a name resolves to): IPv4's
        loopback by `localhost`, IPv6's by its literal (a name that resolves to ::1 alone admitted both)."""
        families = {"ipv4-off": ["[::1]"], "ipv6-off": ["localhost"]}
        return families.get(self.fault, ["localhost", "[::1]"])

    @property
    def preloaded(self) -> bool:
        """Whether its fault lives in a preloaded library, which its TPC agent must load too (lab/faults.py)."""
        return self.fault == "corrupt" or self.fault.startswith("no-route-to-")

    @property
    def fault(self) -> str:
        return self.fault_file.read_text().strip() if self.fault_file.exists() else ""

    def set_fault(self, kind: str):
        if kind:
            self.fault_file.write_text(kind)
        else:
            self.fault_file.unlink(missing_ok=True)

    # -- life cycle ----------------------------------------------------------------------------------
    def prepare(self):
        """Directories, certificates and the issuer's keys, owned by the unprivileged xrootd user."""
        for sub in ("data", "data" + EMBARGO_DIR, "admin", "cache/scitokens", "tpccreds"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        for kind in ("host", "expired", "foreign"):
            for ext in ("pem", "key"):
                target = self.dir / f"{kind}.{ext}"
                target.unlink(missing_ok=True)
                shutil.copy(self.layout.pki / f"{kind}.{ext}", target)
        (self.dir / "authdb").write_text(GROUP_GRANT)
        (self.dir / "scitokens.cfg").write_text(self._scitokens_cfg("passthrough"))
        (self.dir / "scitokens-no-groups.cfg").write_text(self._scitokens_cfg("deny"))
        (self.dir / "scitokens-two-base-paths.cfg").write_text(self._scitokens_cfg("passthrough", f"/, {PROBE_PREFIX}"))
        for fault, privileges in PASSTHROUGH_GRANTS.items():
            (self.dir / f"authdb-{fault}").write_text(GROUP_GRANT + f"u * {PROBE_PREFIX} {privileges}\n")
        (self.dir / "authdb-x509-other-vo").write_text(GROUP_GRANT + OTHER_VO_GRANT)
        (self.dir / "authdb-x509-any-proxy").write_text(GROUP_GRANT + MAPPED_USER_GRANT)
        (self.dir / "grid-mapfile").write_text(f'"{voms.user_dn()}" {MAPPED_USER}\n')
        if not (self.dir / "macaroon-secret").exists():  # kept: macaroons it issued stay valid over restarts
            (self.dir / "macaroon-secret").write_text(base64.b64encode(os.urandom(48)).decode() + "\n")
        self._seed_issuer_keys()
        subprocess.run(["chown", "-R", f"{XROOTD_USER}:{XROOTD_USER}", str(self.dir)], check=True)
        for kind in ("host", "expired", "foreign"):
            (self.dir / f"{kind}.key").chmod(0o400)
        (self.dir / "macaroon-secret").chmod(0o400)
        (self.dir / "tpccreds").chmod(0o700)

    def _seed_issuer_keys(self):
        # scitokens-cpp fetches issuer keys with the system CA bundle only, which does not trust the lab CA;
        # its key cache is pre-seeded instead (no environment variable points it at another CA).
        jwks = pki.public_jwks(self.layout.pki)
        far = int(time.time()) + 10 * 365 * 86400
        db = sqlite3.connect(self.dir / "cache/scitokens/scitokens_cpp.sqllite")
        with db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS keycache (issuer text UNIQUE PRIMARY KEY NOT NULL, keys text NOT NULL)"
            )
            db.execute(
                "INSERT OR REPLACE INTO keycache VALUES (?, ?)",
                (self.layout.issuer_url, json.dumps({"jwks": jwks, "expires": far, "next_update": far})),
            )
        db.close()

    def _scitokens_cfg(self, onmissing: str, base_path: str = "/") -> str:
        return (
            f"[Global]\naudience = {', '.join(self.audiences)}\nonmissing = {onmissing}\n\n"
            f"[Issuer lab]\nissuer = {self.layout.issuer_url}\nbase_path = {base_path}\n"
            f"default_user = {XROOTD_USER}\n"
        )

    def config(self) -> str:
        fault, d = self.fault, self.dir
        lines = [
            "all.role server",
            "all.export /" + (" r/o" if fault == "readonly" else ""),
            f"all.adminpath {d}/admin",
            f"all.pidpath {d}/admin",
            f"oss.localroot {d}/data",
            f"xrd.port {self.root_port}",
            *(f"xrd.allow host {name}" for name in self.allowed_hosts()),
            f"xrd.protocol XrdHttp:{self.https_port} libXrdHttp.so",
            *self.service_lines(),
        ]
        if fault == "slow":
            lines += ["xrootd.fslib throttle default", f"throttle.throttle data {SLOW_RATE_BPS}"]
        return "\n".join(lines) + "\n"

    def service_lines(self) -> list[str]:
        """TLS, checksum, token authorization and third-party copy as the lab serves them: shared with the
        nodes of a cluster (lab/cluster.py), which serve the same way."""
        return [
            *self.tls_lines(),
            f"xrootd.chksum max {CHECKSUM_JOBS} {self.checksum}",
            *self.authorization_lines(),
            *self.tpc_lines(),
        ]

    def tls_lines(self) -> list[str]:
        d, cert = self.dir, "expired" if self.fault == "expired-cert" else self.certificate
        if not self.tls:
            return []
        return [
            f"xrd.tls {d}/{cert}.pem {d}/{cert}.key",
            f"xrd.tlsca certdir {self.layout.ca_dir}",
            "xrootd.tls capable all",
        ]

    def authorization_lines(self) -> list[str]:
        fault, d = self.fault, self.dir
        authdb = f"-{fault}" if fault in (*PASSTHROUGH_GRANTS, "x509-other-vo", "x509-any-proxy") else ""
        scitokens = f"-{fault}" if fault in ("no-groups", "two-base-paths") else ""
        lines = []
        if fault != "no-auth" and self.tls:
            wrapper = "base_path=/" + WRAPPER_FAULTS.get(fault, "")
            lines += [
                "xrootd.seclib libXrdSec.so",
                "sec.protocol ztn",
                *self.gsi_lines(),
                "sec.protbind * only ztn gsi",
                "ofs.authorize 1",
                f"ofs.authlib ++ libXrdAccSciTokens.so config={d}/scitokens{scitokens}.cfg",
                # Asked before SciTokens: scope paths end at a slash boundary, as from XRootD 5.6 on.
                *([] if fault == "scope-prefix" else [f"ofs.authlib ++ {scope_boundary(self.layout)} {wrapper}"]),
                f"acc.authdb {d}/authdb{authdb}",
                "http.header2cgi Authorization authz",
                *([] if fault == "x509-off" else ["http.secxtractor libXrdHttpVOMS.so"]),
                *([f"http.gridmap {d}/grid-mapfile"] if fault == "x509-any-proxy" else []),
                *([] if fault == "macaroons-off" else self.macaroon_lines(taken=fault != "macaroons-not-taken")),
            ]
        return lines

    def gsi_lines(self) -> list[str]:
        """X.509 proxies over root:// (gsi), offered after tokens: their VOMS attributes are the request's
        groups (XrdVoms), as over https, and its user the DN's hash, unless the x509-any-proxy fault maps DNs
        to users (`-gmapopt:1`: the grid-mapfile, else the hash); x509-off extracts no attributes."""
        fault, d = self.fault, self.dir
        mapping = f"-gridmap:{d}/grid-mapfile -gmapopt:1" if fault == "x509-any-proxy" else "-gmapopt:0"
        extractor = "" if fault == "x509-off" else " -vomsat:extract -vomsfun:libXrdVoms.so"
        options = f"-certdir:{self.layout.ca_dir} -cert:{d}/host.pem -key:{d}/host.key {mapping}{extractor}"
        return [f"sec.protocol gsi {options}"]

    def macaroon_lines(self, taken: bool = True) -> list[str]:
        """Macaroons issued over https (a POST of application/macaroon-request) and, when `taken`, taken as
        bearer tokens: asked before SciTokens, each holds its requester's identity, restricted by its
        caveats. Not taken, a macaroon goes to SciTokens, which refuses it as no JWT."""
        return [
            f"all.sitename {self.name}",
            f"macaroons.secretkey {self.dir}/macaroon-secret",
            *(["ofs.authlib ++ libXrdMacaroons.so"] if taken else []),
            "http.exthandler xrdmacaroons libXrdMacaroons.so",
        ]

    def tpc_lines(self) -> list[str]:
        fault, d, lines = self.fault, self.dir, []
        if fault != "tpc-off" and self.tls:
            # The client's ztn token is handed to the TPC agent as BEARER_TOKEN_FILE, so that root:// TPC
            # works with token enforcement at the source too.
            lines += [
                "http.exthandler xrdtpc libXrdHttpTPC.so",
                f"ofs.tpc fcreds ?ztn =BEARER_TOKEN_FILE fcpath {d}/tpccreds/ ttl 60 70 xfr 20 "
                f"pgm {d / 'tpc-agent' if self.preloaded else '/usr/bin/xrdcp'} --server",
            ]
        return lines

    def start(self, extra_env: dict | None = None):
        if self.running:
            return
        (self.dir / "xrootd.cfg").write_text(self.config())
        env = {
            "XDG_CACHE_HOME": str(self.dir / "cache"),
            "X509_CERT_DIR": str(self.layout.ca_dir),
            "X509_VOMS_DIR": str(voms.vomsdir(self.layout.run_dir)),
            **(extra_env or {}),
        }
        procs.start_server(
            ["xrootd", "-R", XROOTD_USER, "-l", str(self.log_file), "-c", str(self.dir / "xrootd.cfg")],
            pid_file=self.pid_file,
            log_file=self.dir / "xrootd.out",
            env=env,
            ports=(self.https_port, self.root_port),
            what=f"{self.name} xrootd",
            server_log=self.log_file,
            ready=READY,
        )

    def stop(self):
        procs.stop(self.pid_file)
        procs.wait_port_closed(self.https_port)
        procs.wait_port_closed(self.root_port)

    @property
    def running(self) -> bool:
        return procs.pid_of(self.pid_file) is not None

    @property
    def pid(self) -> int | None:
        return procs.pid_of(self.pid_file)

    def up(self) -> bool:
        return self.running and procs.port_open(self.root_port) and procs.port_open(self.https_port)


def scope_boundary(layout: Layout) -> Path:
    """The lab's authorization wrapper that ends SciTokens scope paths at a slash boundary: XRootD 5.5.3
    (Debian 12's) matches a token for /a/b as a prefix of /a/b-x, which 5.6 fixed. Built on first use."""
    return procs.build_library(SCOPE_BOUNDARY_SOURCE, layout.run_dir / "lib" / "scope_boundary.so")
