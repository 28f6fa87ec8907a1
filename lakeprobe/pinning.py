"""Storage calls pinned to one address family, for `--per-address`: the chain of an endpoint whose host has
IPv4 and IPv6 addresses runs once over each.

gfal2/davix and XrdCl pick an endpoint's address themselves, with no per-call choice, and an IP literal in
the URL would fail the certificate check of a real endpoint. So a pinned call runs in an agent: a child
process whose every name lookup answers one family only (address_family.c, loaded with LD_PRELOAD, built
once with the machine's C compiler), with the host name, and so the certificate, unchanged. The parent
hands each call its token, as every call gets it; the agent never asks the issuer (which may well have no
address of that family), nor holds another secret of the run (sink passwords, the chat webhook). Agents
are pooled per family; one that overruns its call's deadline is killed, and its temporary directory (where
a root:// client keeps its token file) removed.
"""

import functools
import hashlib
import os
import pickle
import platform
import queue
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from lakeprobe import child_env, deadline, paths
from lakeprobe.classify import classify
from lakeprobe.errors import ErrorClass, ProbeError, ProbeFailure
from lakeprobe.preflight import FAMILY_NAMES
from lakeprobe.protocols import registry
from lakeprobe.protocols.base import Entry, Moved, Protocol, Reached

SOURCE = Path(__file__).with_name("address_family.c")
GRACE_S = 5.0  # past a call's deadline (the caller has given up by then), its agent is killed
QUIT_S = 2.0  # an agent told to end (its socket closed) gets this long to remove its files itself
CLOSE_S = 0.5  # at the run's exit: an idle agent ends at once on its socket's end; one stuck in a call is killed
# Run by `check`: what each family must and must not resolve to with the library loaded.
SELF_TEST = """
import socket, sys
def found(address):
    try:
        return bool(socket.getaddrinfo(address, 443, type=socket.SOCK_STREAM))
    except socket.gaierror:
        return False
own, other = {"ipv4": ("127.0.0.1", "::1"), "ipv6": ("::1", "127.0.0.1")}[sys.argv[1]]
sys.exit(0 if found(own) and not found(other) else 1)
"""


class PinningUnavailable(Exception):
    """`--per-address` cannot run on this machine; the message says why, in one line."""


def library() -> Path:
    """The built address-family library, built on first use (one per version of its source and machine
    architecture: a home directory may be shared between machines)."""
    source = SOURCE.read_bytes()
    built = paths.cache_dir() / f"address_family-{platform.machine()}-{hashlib.sha256(source).hexdigest()[:12]}.so"
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


def check():
    """Raises PinningUnavailable unless the library loads and pins both families here (the dynamic loader
    skips a library it cannot load with a warning only, and LD_PRELOAD splits a path at spaces and colons)."""
    built = library()
    for family in FAMILY_NAMES:
        env = child_env.allowed(LD_PRELOAD=str(built), LAKEPROBE_ADDRESS_FAMILY=family)
        done = subprocess.run([sys.executable, "-c", SELF_TEST, family], env=env, capture_output=True, timeout=60)
        if done.returncode != 0:
            raise PinningUnavailable(
                f"--per-address: {built} does not pin {FAMILY_NAMES[family]} lookups on this machine "
                "(a statically linked Python, or a path LD_PRELOAD cannot take)"
            )


def _send(sock: socket.socket, message):
    """One pickled message, length first. MSG_NOSIGNAL: a peer that is gone is an error here, never a
    SIGPIPE that ends the whole process where SIGPIPE has its default action."""
    data = pickle.dumps(message)
    sock.sendall(struct.pack("!Q", len(data)) + data, socket.MSG_NOSIGNAL)


def _receive(sock: socket.socket):
    """The next message; EOFError when the peer is gone, TimeoutError past the socket's timeout."""

    def exactly(size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    return pickle.loads(exactly(struct.unpack("!Q", exactly(8))[0]))


class Agent:
    """One child process pinned to a family, serving one call at a time over a socket pair."""

    def __init__(self, family: str):
        preload = " ".join(filter(None, (str(library()), os.environ.get("LD_PRELOAD"))))
        self.tmp = tempfile.mkdtemp(prefix=f"lakeprobe-{family}-")
        env = child_env.allowed(  # the run's secrets stay here: each call hands the agent its token
            LD_PRELOAD=preload,
            LAKEPROBE_ADDRESS_FAMILY=family,
            # XrdCl asks for addresses of the stack it is set to: then it never asks for the other family.
            XRD_NETWORKSTACK=FAMILY_NAMES[family],
            TMPDIR=self.tmp,
        )
        ours, theirs = socket.socketpair()
        with theirs:
            # A session of its own: Ctrl-C at the terminal is for lakeprobe, which abandons the call; the
            # signal must not also kill the agent and make the call look like the storage's failure.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "lakeprobe.pinning", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.connection = ours
        self.family = family

    def call(self, scheme: str, method: str, args: tuple, wait_s: float) -> Any:
        """The call's value, or what it raised; ProbeFailure (timeout) when the agent overran `wait_s`."""
        try:
            self.connection.settimeout(wait_s)
            _send(self.connection, (scheme, method, args))
            outcome = _receive(self.connection)
        except TimeoutError:
            outcome = None
        except (EOFError, OSError):  # the agent died: lakeprobe's failure, not the storage's
            self.end()
            raise ProbeError(
                ErrorClass.UNKNOWN,
                f"{method} over {FAMILY_NAMES[self.family]}: lakeprobe's client process ended",
                "lakeprobe",
            ) from None
        if outcome is None:
            self.end()
            raise ProbeFailure(
                ErrorClass.TIMEOUT, f"{method} over {FAMILY_NAMES[self.family]}: no answer within {wait_s:g} s"
            )
        kind, *details = outcome
        if kind == "value":
            return details[0]
        if kind == "error":
            raise ProbeError(*details)
        raise ProbeFailure(*details)

    def alive(self) -> bool:
        return self.process.poll() is None

    def end(self, quit_by: float | None = None):
        """Asks the agent to end (it does on its socket's end), then kills it if it is stuck in a call by
        `quit_by` (a time.monotonic(); default QUIT_S from now)."""
        self.connection.close()
        wait_s = QUIT_S if quit_by is None else max(0.0, quit_by - time.monotonic())
        try:
            self.process.wait(wait_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Pool:
    def __init__(self):
        self._idle: dict[str, queue.SimpleQueue] = {f: queue.SimpleQueue() for f in FAMILY_NAMES}
        self.live: set[Agent] = set()
        self._lock = threading.Lock()

    def call(self, family: str, scheme: str, method: str, args: tuple, timeout_s: float) -> Any:
        agent = self._take(family)
        try:
            return agent.call(scheme, method, args, timeout_s + GRACE_S)
        finally:
            if agent.alive():
                self._idle[family].put(agent)  # it answered, a finding or not: it serves the next call
            else:
                with self._lock:
                    self.live.discard(agent)

    def _take(self, family: str) -> Agent:
        while True:
            try:
                agent = self._idle[family].get_nowait()
            except queue.Empty:
                break
            if agent.alive():
                return agent
            agent.end()  # ended since its last call: its files go, a new one serves
            with self._lock:
                self.live.discard(agent)
        agent = Agent(family)
        with self._lock:
            self.live.add(agent)
        return agent

    def close(self):
        """Ends every agent, all asked at once: the run's exit waits CLOSE_S at most, however many are stuck."""
        with self._lock:
            for agent in self.live:
                agent.connection.close()
            quit_by = time.monotonic() + CLOSE_S
            for agent in self.live:
                agent.end(quit_by)
            self.live.clear()


_pool = Pool()
deadline.at_exit(_pool.close)


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
def serve(connection: socket.socket):
    for scheme in registry.schemes():
        registry.get(scheme).prepare_process()
    while True:
        try:
            scheme, method, args = _receive(connection)
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
        try:
            _send(connection, outcome)
        except OSError:
            return  # the parent is gone


if __name__ == "__main__":
    # Its temporary directory goes last, when the agent ends on its own (its parent gone without a word).
    deadline.at_exit(functools.partial(shutil.rmtree, os.environ["TMPDIR"], True))
    serve(socket.socket(fileno=int(sys.argv[1])))
