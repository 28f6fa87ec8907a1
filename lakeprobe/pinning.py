"""Storage calls pinned to one address family, for `--per-address`: the chain of an endpoint whose host has
IPv4 and IPv6 addresses runs once over each.

gfal2/davix and XrdCl pick an endpoint's address themselves, with no per-call choice, and an IP literal in
the URL would fail the certificate check of a real endpoint. So a pinned call runs in an agent: a child
process whose every name lookup answers one family only (address_family.c, loaded with LD_PRELOAD, built
once with the machine's C compiler), with the host name, and so the certificate, unchanged. The parent
hands each call its token, as every call gets it; the agent never asks the issuer (which may well have no
address of that family). Agents are pooled per family; one that overruns its call's deadline is killed.
"""

import atexit
import functools
import hashlib
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from lakeprobe import paths
from lakeprobe.classify import classify
from lakeprobe.errors import ProbeError, ProbeFailure
from lakeprobe.protocols import registry
from lakeprobe.protocols.base import Entry, Moved, Protocol, Reached
from lakeprobe.records import ErrorClass

FAMILIES = ("ipv4", "ipv6")
SOURCE = Path(__file__).with_name("address_family.c")
# XrdCl asks for addresses of the family it is set to (IPv4-mapped ones for IPv4 in an IPv6 socket); the
# library answers only the pinned family whatever it asks, this keeps XrdCl from asking for the other.
XRD_NETWORK_STACK = {"ipv4": "IPv4", "ipv6": "IPv6"}
GRACE_S = 5.0  # past a call's deadline (the caller has given up by then), its agent is killed


class PinningUnavailable(Exception):
    """`--per-address` cannot run on this machine; the message says why, in one line."""


def library() -> Path:
    """The built address-family library, built on first use (keyed by its source, so an update rebuilds)."""
    source = SOURCE.read_bytes()
    built = paths.cache_dir() / f"address_family-{hashlib.sha256(source).hexdigest()[:12]}.so"
    if built.exists():
        return built
    compiler = shutil.which(os.environ.get("CC", "cc"))
    if compiler is None:
        raise PinningUnavailable("--per-address needs a C compiler (cc) to build its address-family library")
    built.parent.mkdir(parents=True, exist_ok=True)
    partial = built.with_suffix(f".{os.getpid()}.partial")
    done = subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(partial), str(SOURCE), "-ldl"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise PinningUnavailable(f"--per-address: cannot build its address-family library with {compiler}: {reason}")
    partial.replace(built)  # atomic: processes building at once each get a whole library
    return built


class Agent:
    """One child process pinned to a family, serving one call at a time over a socket pair."""

    def __init__(self, family: str):
        ours, theirs = socket.socketpair()
        preload = " ".join(filter(None, (str(library()), os.environ.get("LD_PRELOAD"))))
        env = {
            **os.environ,
            "LD_PRELOAD": preload,
            "LAKEPROBE_ADDRESS_FAMILY": family,
            "XRD_NETWORKSTACK": XRD_NETWORK_STACK[family],
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lakeprobe.pinning", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        theirs.close()
        self.connection = Connection(ours.detach())
        self.family = family

    def call(self, scheme: str, method: str, args: tuple, wait_s: float) -> Any:
        """The call's value, or what it raised; ProbeFailure (timeout) when the agent overran `wait_s`."""
        try:
            self.connection.send((scheme, method, args))
            answered = self.connection.poll(wait_s)
            outcome = self.connection.recv() if answered else None
        except (EOFError, OSError):
            self.kill()
            raise ProbeFailure(ErrorClass.UNKNOWN, f"{method} over {self.family}: the pinned client ended") from None
        if outcome is None:
            self.kill()
            raise ProbeFailure(ErrorClass.TIMEOUT, f"{method} over {self.family}: no answer within {wait_s:g} s")
        kind, *details = outcome
        if kind == "value":
            return details[0]
        if kind == "error":
            raise ProbeError(*details)
        raise ProbeFailure(*details)

    def kill(self):
        self.process.kill()
        self.process.wait()
        self.connection.close()


class Pool:
    def __init__(self):
        self._idle: dict[str, queue.SimpleQueue] = {f: queue.SimpleQueue() for f in FAMILIES}
        self._live: set[Agent] = set()
        self._lock = threading.Lock()

    def call(self, family: str, scheme: str, method: str, args: tuple, timeout_s: float) -> Any:
        try:
            agent = self._idle[family].get_nowait()
        except queue.Empty:
            agent = Agent(family)
            with self._lock:
                self._live.add(agent)
        try:
            value = agent.call(scheme, method, args, timeout_s + GRACE_S)
        except (ProbeFailure, ProbeError):
            if agent.process.poll() is None:
                self._idle[family].put(agent)  # it answered: a finding, the agent is fine
            else:
                with self._lock:
                    self._live.discard(agent)
            raise
        self._idle[family].put(agent)
        return value

    def close(self):
        with self._lock:
            for agent in self._live:
                if agent.process.poll() is None:
                    agent.kill()
            self._live.clear()


_pool = Pool()
atexit.register(_pool.close)


class Pinned(Protocol):
    """A protocol whose every call runs over one address family (no third-party copy: the data flows
    between the two storages, over whatever family they choose)."""

    def __init__(self, family: str):
        self.family = family

    def _call(self, method: str, timeout_s: float, *args) -> Any:
        return _pool.call(self.family, self.scheme, method, args, timeout_s)

    def connect(self, base: str, token: str | None, timeout_s: float) -> Reached:
        return self._call("connect", timeout_s, base, token, timeout_s)

    def mkdir(self, url, token, timeout_s):
        return self._call("mkdir", timeout_s, url, token, timeout_s)

    def put(self, local, url, token, timeout_s) -> Moved | None:
        return self._call("put", timeout_s, local, url, token, timeout_s)

    def stat(self, url, token, timeout_s) -> Entry:
        return self._call("stat", timeout_s, url, token, timeout_s)

    def checksum(self, url, token, timeout_s):
        return self._call("checksum", timeout_s, url, token, timeout_s)

    def get(self, url, local, token, timeout_s) -> Moved | None:
        return self._call("get", timeout_s, url, local, token, timeout_s)

    def listdir(self, url, token, timeout_s) -> list[str]:
        return self._call("listdir", timeout_s, url, token, timeout_s)

    def delete(self, url, token, timeout_s):
        return self._call("delete", timeout_s, url, token, timeout_s)

    def rmdir(self, url, token, timeout_s):
        return self._call("rmdir", timeout_s, url, token, timeout_s)


@functools.cache
def _pinned_class(protocol: type[Protocol]) -> type[Pinned]:
    """Pinned with the protocol's own scheme and token behaviour."""
    shared = ("scheme", "takes_tokens", "logs_in_with_token")
    return type(f"Pinned{protocol.__name__}", (Pinned,), {name: getattr(protocol, name) for name in shared})


def pinned(protocol: Protocol, family: str) -> Protocol:
    """`protocol` with every call over `family`; itself for "" or a protocol not reached over the network."""
    return _pinned_class(type(protocol))(family) if family and protocol.on_network else protocol


# -- the agent's side --------------------------------------------------------------------------------------
def serve(connection: Connection):
    for scheme in registry.schemes():
        registry.get(scheme).prepare_process()
    while True:
        try:
            scheme, method, args = connection.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        try:
            outcome: tuple = ("value", getattr(registry.get(scheme), method)(*args))
        except ProbeFailure as e:
            outcome = ("failure", e.error_class.value, str(e))
        except ProbeError as e:
            outcome = ("error", e.error_class.value, str(e), e.blame)
        except Exception as e:  # a client library's own exception: a finding, in words, never a traceback
            outcome = ("failure", classify(str(e)).value, f"{method}: {type(e).__name__}: {e}")
        connection.send(outcome)


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])))
