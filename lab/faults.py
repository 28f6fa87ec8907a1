"""Real faults on a running lab storage element, each observable with plain gfal2, xrdcp or curl.

down          the server process is stopped
hang          the process is paused (SIGSTOP): connections are accepted by the kernel, nothing answers
readonly      the namespace is exported read-only: every write is refused
full          the data directory sits on a tiny, filled tmpfs: writes fail with ENOSPC
slow          XRootD's throttle plugin limits data to 64 KiB/s
tpc-off       neither HTTP-TPC nor root:// TPC is configured
corrupt       a preloaded library flips a bit of every block the server writes: stored bytes differ
no-auth       token enforcement is switched off: anonymous reads and writes are accepted
passthrough-read  a request its token's scopes do not allow is passed on to an authdb that lets everyone
              read the probe area (scitokens `onmissing = passthrough`): a modify-only token reads
passthrough-all   the same, with an authdb that grants everything there: a scope-less token writes
scope-prefix  scope paths matched as plain prefixes (XRootD 5.5.3's own SciTokens, without the lab's
              boundary wrapper): a token for <prefix>/scoped reaches <prefix>/scoped-beside
single-audience  a token whose `aud` is a list is refused, even one naming this storage's audience
trailing-slash  a scope path's trailing slash is kept when matched: a token for <prefix>/scoped/ is refused
              below it, as by a naive slash-boundary match
two-base-paths  scope paths are read from two bases, `/` and the probe prefix (SciTokens' `base_path` list): a
              token for /scoped reaches <prefix>/scoped
x509-off      https takes no VOMS attributes (no XrdHttp VOMS extractor): the lab VO's proxy is refused
x509-other-vo the authdb grants the probe area to another VO the storage trusts too: its proxy writes
x509-any-proxy a grid-mapfile maps the lab user's DN to a local user the authdb grants the probe area: any
              proxy of that user writes, with the VO's attributes or without, of any VO
macaroons-off no macaroon service: a macaroon request is a plain POST, which XrdHttp refuses
macaroons-not-taken  macaroons are issued but not taken (no libXrdMacaroons authorization): refused
no-groups     groups grant nothing: what a token's scopes do not allow is refused (`onmissing = deny`)
expired-cert  the server presents a host certificate that expired yesterday
no-route-to-X the server (and its TPC agent) cannot connect to RSE X's ports, as a firewall between two sites
              would: copies that it makes with X fail, everything else works (a pair-only failure)
ipv6-off      connections over IPv6 are refused (`xrd.allow` names the IPv4 client only), IPv4 works
ipv4-off      connections over IPv4 are refused, IPv6 works
"""

import os
import pwd
import re
import signal
import subprocess
from pathlib import Path

from lab import procs
from lab.layout import PORTS_PER_RSE
from lab.procs import LabError
from lab.rse import XROOTD_USER, StorageElement

# The faults that live in the service lines of the configuration (StorageElement.service_lines), which the
# nodes of a cluster share: there, each is applied to every node.
SERVICE_FAULTS = (
    "tpc-off",
    "no-auth",
    "passthrough-read",
    "passthrough-all",
    "scope-prefix",
    "single-audience",
    "trailing-slash",
    "two-base-paths",
    "no-groups",
    "expired-cert",
    "x509-off",
    "x509-other-vo",
    "x509-any-proxy",
    "macaroons-off",
    "macaroons-not-taken",
)
KINDS = (
    "down",
    "hang",
    "readonly",
    "full",
    "slow",
    "corrupt",
    *SERVICE_FAULTS,
    "ipv6-off",
    "ipv4-off",
    "no-route-to-RSE",
)
_SHIMS = Path(__file__).parent / "faults"
NO_ROUTE = re.compile(r"^no-route-to-XRD(\d+)$")


def one_of(kind: str, kinds: tuple[str, ...]) -> bool:
    """`kind` is among `kinds`, where `no-route-to-RSE` stands for every `no-route-to-XRD<n>`."""
    if NO_ROUTE.match(kind):
        return "no-route-to-RSE" in kinds
    return kind in kinds and kind != "no-route-to-RSE"


def inject(rse: StorageElement, kind: str):
    if not one_of(kind, KINDS):
        raise LabError(f"unknown fault kind {kind!r}; known kinds: {', '.join(KINDS)} (e.g. no-route-to-XRD1)")
    if rse.fault:
        heal(rse)
    rse.set_fault(kind)
    if kind == "hang":
        if not rse.running:
            rse.start()
        pid = rse.pid
        if pid is None:
            raise LabError(f"{rse.name} did not start: cannot make it hang")
        os.kill(pid, signal.SIGSTOP)
        return
    rse.stop()
    if kind == "down":
        return
    if kind == "full":
        _mount_full(rse.data)
    rse.start(preloaded_env(rse))


def heal(rse: StorageElement):
    kind = rse.fault
    if kind == "hang" and rse.pid:
        os.kill(rse.pid, signal.SIGCONT)
    rse.set_fault("")
    rse.stop()
    if kind == "full":
        unmount(rse.data)
    rse.start()


def heal_all_mounts(rse: StorageElement):
    """On `lab down`, and on `lab up` for an RSE without the `full` fault: no `full` tmpfs outlives its fault,
    even one left by a process killed halfway through healing."""
    unmount(rse.data)


def _mount_full(data: Path):
    # 64 KiB is room for directories (they cost inodes) but a filler file takes every data block.
    mount_tmpfs(data, "64k")
    fill(data)


def mount_tmpfs(data: Path, size: str):
    owner = pwd.getpwnam(XROOTD_USER)
    _run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size={size},mode=0755,uid={owner.pw_uid},gid={owner.pw_gid}",
            "lakeprobe-full",
            str(data),
        ],
        "mount a tmpfs for the `full` fault",
    )


def fill(data: Path):
    """A filler file that takes every free block of the file system `data` is on."""
    subprocess.run(
        ["runuser", "-u", XROOTD_USER, "--", "dd", "if=/dev/zero", f"of={data}/.filler", "bs=4k"], capture_output=True
    )


def unmount(data: Path):
    while subprocess.run(["mountpoint", "-q", str(data)]).returncode == 0:
        _run(["umount", str(data)], "unmount the `full` fault's tmpfs")


def preloaded_env(rse: StorageElement) -> dict | None:
    """The environment that loads the library its fault lives in (`corrupt`, `no-route-to-X`); else None."""
    if rse.fault == "corrupt":
        return _preloaded(rse, "corrupt_writes", LAKEPROBE_CORRUPT_ROOT=str(rse.data))
    if match := NO_ROUTE.match(rse.fault):
        # Every port of X's block: a cluster's data servers listen there too, beside its door's two.
        root, _ = rse.layout.rse_ports(int(match[1]))
        ports = range(root, root + PORTS_PER_RSE)
        return _preloaded(rse, "refuse_connects", LAKEPROBE_REFUSED_PORTS=",".join(map(str, ports)))
    return None


def _preloaded(rse: StorageElement, shim: str, **settings: str) -> dict:
    """The environment that loads a fault's library into the server and into its root:// TPC agent."""
    lib = procs.build_library(_SHIMS / f"{shim}.c", rse.layout.run_dir / "lib" / f"{shim}.so", "-ldl")
    env = {"LD_PRELOAD": str(lib), **settings}
    # XRootD starts its root:// TPC agent with the real uid root and the effective uid xrootd, so the dynamic
    # loader runs it in secure mode and drops LD_PRELOAD: the agent gives up root for good first, and then
    # runs with the same library as the server.
    agent = rse.dir / "tpc-agent"
    assignments = " ".join(f"{k}={v}" for k, v in env.items())
    agent.write_text(
        f"#!/bin/sh\nexec setpriv --reuid={XROOTD_USER} --regid={XROOTD_USER} --clear-groups "
        f'env {assignments} /usr/bin/xrdcp "$@"\n'
    )
    agent.chmod(0o755)
    return env


def _run(argv, what):
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise LabError(f"could not {what}: {result.stderr.strip() or result.stdout.strip()}")
