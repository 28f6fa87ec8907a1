"""An XRootD cluster as one storage element: a manager (an xrootd and a cmsd) that redirects every client to
one of its data servers (each an xrootd and a cmsd with a data directory of its own), as large sites run
their storage. Every node serves TLS, tokens and third-party copy as a lab RSE does (StorageElement's
service lines), and root:// and davs:// are both at the manager.

Its ports are those of lab RSE number `index` (layout.rse_ports): the manager's root:// port, its https
port, its cmsd port, then one port per data server, on which the data server serves root:// and https
both: the manager's HTTP redirects name the port the data server's cmsd reported, its xroot port.
"""

import re
import time

from lab import procs, voms
from lab.faults import NO_ROUTE, SERVICE_FAULTS, one_of, preloaded_env
from lab.layout import Layout, rse_name
from lab.rse import XROOTD_USER, StorageElement

PROGRAMS = ("cmsd", "xrootd")  # the manager's cmsd first: its data servers' cmsds log in to it
LOGIN_TIMEOUT_S = 30.0


class ClusterNode(StorageElement):
    """One node of a cluster: an xrootd and a cmsd sharing a configuration file (and an admin path, through
    which the two talk), in a directory of its own under the cluster's."""

    def __init__(self, cluster: "Cluster", label: str, root_port: int, https_port: int):
        super().__init__(cluster.layout, cluster.index)
        self.cluster, self.label, self.role = cluster, label, "manager" if label == "manager" else "server"
        self.name, self.dir = f"{cluster.name}-{label}", cluster.dir / label
        self.root_port, self.https_port = root_port, https_port

    def pid_file_of(self, program: str):
        return self.dir / f"{program}.pid"

    def log_of(self, program: str):
        return self.dir / f"{program}.log"

    def config(self) -> str:
        d, cluster = self.dir, self.cluster
        lines = [
            f"all.role {self.role}",
            f"all.manager localhost:{cluster.cmsd_port}",
            "all.export /",
            f"all.adminpath {d}/admin",
            f"all.pidpath {d}/admin",
            f"oss.localroot {d}/data",
            "cms.space min 100m",  # the default asks each data server for 10 GB free
        ]
        if self.role == "manager":
            lines += [
                # Redirect once every data server is in, or after 2 s (the default waits up to 90 s); a new
                # file is looked up for 1 s (default 5 s) before the manager says no server has it.
                f"cms.delay servers {len(cluster.servers)} startup 2 lookup 1",
                # How long the manager remembers that no server has a path (default 8 h): a path asked
                # about just before a forwarded mkdir created it stays missing that long. 60 s is the
                # least cmsd 5.5 takes ("fxhold value 1s may not be less than 60").
                "cms.fxhold 60s",
                "ofs.dirlist remote",  # a listing is a data server's: the manager's own disk is empty
                # A directory on every data server: a file may land on either, and an HTTP-TPC pull into
                # one fails when its directory exists on the other only. (`2way` hung.)
                "ofs.forward mkdir mv rmdir",
                "http.desthttps yes",  # else https clients are redirected to http://
            ]
        lines += [
            "if exec cmsd",
            f"xrd.port {cluster.cmsd_port if self.role == 'manager' else 'any'}",
            "else",
            f"xrd.port {self.root_port}",
            *(f"xrd.allow host {name}" for name in self.allowed_hosts()),
            f"xrd.protocol XrdHttp:{self.https_port} libXrdHttp.so",
            *self.service_lines(),
            "fi",
        ]
        return "\n".join(lines) + "\n"

    def start(self, extra_env: dict | None = None):
        (self.dir / "xrootd.cfg").write_text(self.config())
        env = {
            "XDG_CACHE_HOME": str(self.dir / "cache"),
            "X509_CERT_DIR": str(self.layout.ca_dir),
            "X509_VOMS_DIR": str(voms.vomsdir(self.layout.run_dir)),
            **(extra_env or {}),
        }
        # A data server's cmsd listens on a port of its own choosing: nothing to wait for.
        manager_cmsd = (self.cluster.cmsd_port,) if self.role == "manager" else ()
        ports = {"xrootd": (self.root_port, self.https_port), "cmsd": manager_cmsd}
        for program in PROGRAMS:
            if procs.pid_of(self.pid_file_of(program)) is None:
                argv = [program, "-R", XROOTD_USER, "-l", str(self.log_of(program)), "-c", str(self.dir / "xrootd.cfg")]
                procs.start_server(
                    argv,
                    pid_file=self.pid_file_of(program),
                    log_file=self.dir / f"{program}.out",
                    env=env,
                    ports=ports[program],
                    what=f"{self.name} {program}",
                    server_log=self.log_of(program),
                )

    def stop(self):
        for program in reversed(PROGRAMS):
            procs.stop(self.pid_file_of(program))
        for port in {self.root_port, self.https_port}:
            procs.wait_port_closed(port)

    @property
    def running(self) -> bool:
        return all(procs.pid_of(self.pid_file_of(p)) is not None for p in PROGRAMS)

    @property
    def pid(self) -> int | None:
        return procs.pid_of(self.pid_file_of("xrootd"))


# The faults a cluster takes: those of a lab RSE that live in the configuration, on every node; the whole
# cluster down; one data server down, as a disk server's machine; every data server corrupting what it
# writes (the manager stores nothing); no route from any node to RSE X (`no-route-to-X`).
FAULTS = (*SERVICE_FAULTS, "down", "server-down", "corrupt", "no-route-to-RSE")


class Cluster:
    """`servers`: how many data servers (at most 3, for the ports). Its fault (FAULTS) is kept in its
    directory, as a lab RSE's is: it outlives `lab down`/`lab up` until healed."""

    def __init__(self, layout: Layout, index: int, servers: int = 2):
        if not 1 <= servers <= 3:
            raise procs.LabError(f"a lab cluster has 1 to 3 data servers, not {servers}")
        self.layout, self.index, self.name = layout, index, rse_name(index)
        self.dir = layout.run_dir / "clusters" / self.name
        self.root_port, self.https_port = layout.rse_ports(index)
        self.cmsd_port = self.root_port + 2
        self.servers: list[ClusterNode] = []
        self.manager = ClusterNode(self, "manager", self.root_port, self.https_port)
        self.servers = [
            ClusterNode(self, f"server{k}", self.cmsd_port + k, self.cmsd_port + k) for k in range(1, servers + 1)
        ]

    root_url = property(lambda self: f"root://localhost:{self.root_port}/")
    davs_url = property(lambda self: f"davs://localhost:{self.https_port}/")

    @property
    def nodes(self) -> list[ClusterNode]:
        return [self.manager, *self.servers]

    @property
    def fault(self) -> str:
        path = self.dir / "fault"
        return path.read_text().strip() if path.exists() else ""

    def set_fault(self, kind: str):
        if kind and not one_of(kind, FAULTS):
            raise procs.LabError(f"fault {kind!r} is not one a cluster takes; it takes: {', '.join(FAULTS)}")
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "fault").write_text(kind)

    def inject(self, kind: str):
        """A fault in place of any other (none: healed), the cluster restarted with it."""
        self.set_fault(kind)
        self.stop()
        self.prepare()
        self.start()

    def prepare(self):
        # The cluster's own faults (down, server-down) are no node's; the manager stores nothing to corrupt.
        on_every_node = self.fault in SERVICE_FAULTS or NO_ROUTE.match(self.fault)
        for node in self.nodes:
            node.prepare()
            node.set_fault(self.fault if on_every_node or (self.fault == "corrupt" and node.role == "server") else "")

    def start(self):
        if self.fault == "down":
            return
        log = self.manager.log_of("cmsd")
        offset = log.stat().st_size if log.exists() else 0
        for node in self.nodes:
            node.start(preloaded_env(node))
        self.wait_logins(len(self.servers), offset)
        if self.fault == "server-down":  # once it has joined: the manager counts on it, as on a machine that died
            self.servers[-1].stop()

    def stop(self):
        for node in reversed(self.nodes):
            node.stop()

    def up(self) -> bool:
        return all(node.up() for node in self.nodes)

    def status(self) -> list[dict]:
        """Each node, as `lab status` lists a component."""
        return [{"name": n.name, "url": n.davs_url, "up": n.up()} for n in self.nodes]

    def wait_logins(self, count: int, offset: int):
        """Until `count` data servers have logged in at the manager's cmsd since its log had `offset` bytes
        (it names each in its log): the manager redirects to those only."""
        log = self.manager.log_of("cmsd")
        deadline = time.monotonic() + LOGIN_TIMEOUT_S
        while time.monotonic() < deadline:
            with open(log, "rb") as f:
                f.seek(offset)
                text = f.read().decode(errors="replace")
            if len(set(LOGIN.findall(text))) >= count:
                return
            time.sleep(0.1)
        raise procs.LabError(f"{self.name}: fewer than {count} data servers logged in within the time (see {log})")


# "Primary server.14866:21@vm:26283 logged in.": a data server's cmsd, named by host and xroot port.
LOGIN = re.compile(r"server\.\d+:\d+@(\S+) logged in")
