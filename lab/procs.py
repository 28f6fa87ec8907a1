"""Starting, watching and stopping the lab's server processes, each tracked by a pid file."""

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Protocol


class LabError(Exception):
    """A lab component could not be brought to the state asked for; the message says which and why."""


class Service(Protocol):
    """A lab component run as a process of its own: the services `lab stop NAME` knows."""

    name: str

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def up(self) -> bool: ...


# The servers this process started, by pid file: how one that died has ended (a crash or an exit).
_started: dict[Path, subprocess.Popen] = {}
CRASHES = (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL)


def start(argv: list[str], *, pid_file: Path, log_file: Path, env: dict | None = None, cwd: Path | None = None):
    """Start a server in its own session (so its helpers die with it) and record its pid. `env` adds to
    this process's environment; a name given None is left out of it."""
    merged = {**os.environ, **(env or {})}
    with open(log_file, "ab") as log:  # the server keeps its own descriptor of it
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={name: value for name, value in merged.items() if value is not None},
            cwd=cwd,
            start_new_session=True,
        )
    pid_file.write_text(str(proc.pid))
    _started[pid_file] = proc
    return proc.pid


def start_server(
    argv: list[str],
    *,
    pid_file: Path,
    log_file: Path,
    env: dict,
    ports,
    what: str,
    server_log: Path,
    ready: str = "",
):
    """Start a server and wait for its ports, then for a line of its log matching `ready` when given; once
    more if it crashed while starting. XRootD 5.5.3 now and then dies of a general protection fault in libc
    while it sets up HTTPS (the kernel log shows it): seen once in a `make test`, which starts some
    thousands; it would fail a lab start or a fault's restart."""
    for again in (False, True):
        offset = server_log.stat().st_size if server_log.exists() else 0
        start(argv, pid_file=pid_file, log_file=log_file, env=env)
        try:
            for port in ports:
                wait_port(port, what=what, pid_file=pid_file, log_file=server_log)
            if ready:
                wait_log(server_log, offset, ready, what=what, pid_file=pid_file)
            return
        except LabError:
            if again or not crashed(pid_file):
                raise


def crashed(pid_file: Path) -> bool:
    """The server this process started from `pid_file` has ended by a crash signal."""
    proc = _started.get(pid_file)
    return proc is not None and proc.poll() is not None and -proc.returncode in CRASHES


def pid_of(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop(pid_file: Path, timeout: float = 10.0):
    """Stop the process group started from this pid file: TERM, then KILL; resumes a paused one first."""
    pid = pid_of(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return
    for sig in (signal.SIGCONT, signal.SIGTERM):
        _signal_group(pid, sig)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        _signal_group(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.05)
    pid_file.unlink(missing_ok=True)


def _signal_group(pid: int, sig):
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_port(
    port: int, *, what: str, pid_file: Path | None = None, log_file: Path | None = None, timeout: float = 30.0
):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if pid_file is not None and pid_of(pid_file) is None:
            raise LabError(f"{what} exited during start-up{_log_hint(log_file)}")
        time.sleep(0.05)
    raise LabError(f"{what} did not open port {port} within {timeout:.0f} s{_log_hint(log_file)}")


def wait_log(log_file: Path, offset: int, pattern: str, *, what: str, pid_file: Path, timeout: float = 30.0):
    """Until a line matching `pattern` is in `log_file` after `offset`: XRootD opens its ports before it has
    set up what serves them, and holds the first connections unanswered until then (5 s and more, measured
    under load: a request sent at once timed out)."""
    found = re.compile(pattern.encode(), re.M)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(log_file, "rb") as f:
                f.seek(offset if os.fstat(f.fileno()).st_size >= offset else 0)  # started anew
                if found.search(f.read()):
                    return
        except FileNotFoundError:  # the server has not written it yet
            pass
        if pid_of(pid_file) is None:
            raise LabError(f"{what} exited during start-up{_log_hint(log_file)}")
        time.sleep(0.05)
    raise LabError(f"{what} did not finish starting within {timeout:.0f} s{_log_hint(log_file)}")


def wait_port_closed(port: int, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while port_open(port) and time.monotonic() < deadline:
        time.sleep(0.05)


def _log_hint(log_file: Path | None) -> str:
    return f" (see {log_file})" if log_file else ""


def build_library(source: Path, lib: Path, *link: str) -> Path:
    """The shared library built from a lab source file (C with gcc, C++ with g++), rebuilt when the source
    is newer: the lab's fault shims and XRootD plugins."""
    if not lib.exists() or lib.stat().st_mtime < source.stat().st_mtime:
        lib.parent.mkdir(parents=True, exist_ok=True)
        # Built aside and renamed into place: the RSEs start in parallel, and a server that loaded a
        # library another start was still writing would exit on it.
        partial = lib.with_name(f"{lib.name}.{os.getpid()}.{threading.get_ident()}")
        compiler = "g++" if source.suffix == ".cc" else "gcc"
        argv = [compiler, "-shared", "-fPIC", "-O2", "-I/usr/include/xrootd", "-o", str(partial), str(source), *link]
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0:
            partial.unlink(missing_ok=True)
            raise LabError(f"could not build {lib.name}: {result.stderr.strip() or result.stdout.strip()}")
        os.replace(partial, lib)
    return lib
