"""Shared by the framework's own tests: how they run commands as a user would, and read what came out."""

import contextlib
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from lab.clients import RUCIO_PREFIX

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LAKEPROBE = str(Path(sys.executable).parent / "lakeprobe")


class Env(dict):
    """An environment for commands; its repr hides the values, so a failing assert never prints a token."""

    def __repr__(self):
        return f"<environment with {len(self)} variables>"


# What the CI running these tests may set, and would make a suite run as a shard of a round elsewhere.
_NOT_PASSED = (
    "BEARER_TOKEN",
    "BEARER_TOKEN_FILE",
    "CI_NODE_INDEX",
    "CI_NODE_TOTAL",
    "JOB_COMPLETION_INDEX",
    "LAKEPROBE_SHARDS",
    "LAKEPROBE_RUN_ID",
    "CI_PIPELINE_ID",
    "GITHUB_RUN_ID",
)


def user_env(**extra) -> Env:
    """A user's shell environment plus `extra`, without a bearer token of this process (commands must find
    their own) and without the variables that make a run a shard of a CI round."""
    env = Env({k: v for k, v in os.environ.items() if k not in _NOT_PASSED})
    env.update(extra)
    return env


def local_http(handler) -> http.server.ThreadingHTTPServer:
    return http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)


@contextlib.contextmanager
def serving(server):
    """Serves with `server` (a socketserver) in a thread while the block runs; yields it. It looks for its
    shutdown every 50 ms (socketserver's default, 0.5 s, would add that much to every test using it)."""
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# What lakeprobe keeps in the temporary directory while it runs: the root:// client's token file, the
# --per-address helpers' directories.
RUN_FILES = ("lakeprobe-ztn-*", "lakeprobe-ipv4-*", "lakeprobe-ipv6-*")


@contextlib.contextmanager
def left_in_tmp(env: dict):
    """Yields (left, env): `env` with a temporary directory of its own (TMPDIR) for the block's runs, apart
    from what other test sessions keep in theirs; after the block, `left` holds what the runs left there of
    RUN_FILES (a run must leave none: a token file is a secret kept)."""
    with tempfile.TemporaryDirectory(prefix="lakeprobe-tests-") as tmp:
        left: list[str] = []
        yield left, Env({**env, "TMPDIR": tmp})
        left += sorted(str(p) for pattern in RUN_FILES for p in Path(tmp).glob(pattern))


def run(argv, env, timeout=600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, **kwargs)


def lakeprobe_cli(*args, env, timeout=300) -> subprocess.CompletedProcess:
    return run([LAKEPROBE, *args], env, timeout=timeout)


def run_pytest(*args, env, cwd=REPO, timeout=900) -> subprocess.CompletedProcess:
    return run([PYTHON, "-m", "pytest", *args, "-p", "no:cacheprovider"], env, timeout=timeout, cwd=cwd)


def status_json(env) -> dict:
    return json.loads(lakeprobe_cli("lab", "status", "--json", env=env).stdout)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The error a command gave, asserting it is one line and no traceback."""
    text = proc.stderr.strip()
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout[-2000:] + proc.stderr[-2000:]
    errors = [line for line in text.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, text
    return errors[0]


def file_lake(directory: Path, rses=("DISK1", "DISK2"), **extra) -> Path:
    """An inventory of RSEs that are directories of this machine (file://): a real lake that needs no lab."""
    import yaml

    spec = {"lake": "file-lake", "rses": {}}
    for name in rses:
        root = directory / name.lower()
        root.mkdir(parents=True, exist_ok=True)
        spec["rses"][name] = {"protocols": {"file": f"file://{root}/"}}
    spec.update(extra)
    path = directory / "lake.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def left_on_storage(lab, run_id: str) -> list[str]:
    """What a run left on the lab's disks, outside Rucio's area: Rucio's files are its reaper's to delete
    once their rules expire (tests/test_rucio_suite.py waits for that)."""
    rucio_area = RUCIO_PREFIX.strip("/")
    return [
        str(p)
        for rse in lab.rses()
        for p in rse.data.rglob(f"*{run_id}*")
        if p.relative_to(rse.data).parts[0] != rucio_area
    ]


def bearer_header(token: str, directory: Path, name: str = "Authorization") -> str:
    """A curl `-H @file` argument holding the token: never a token in argv, which a failing assert prints."""
    path = Path(directory) / f"header-{name}-{os.getpid()}"
    path.touch(mode=0o600)
    path.write_text(f"{name}: Bearer {token}\n")
    return f"@{path}"


# `make test` runs two pytest-xdist workers: each has a test lab of its own (and a MariaDB), the second's
# ports 2000 above the first's. The lab's own ports are base+0..291; the tests' MariaDB is base+900.
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
TEST_BASE_PORT = int(os.environ.get("LAKEPROBE_TEST_BASE_PORT") or 23000) + 2000 * WORKER
MARIADB_PORT = TEST_BASE_PORT + 900


class MariaDB:
    """A private MariaDB server (Debian's mariadb-server) for the SQL sink's tests, started the way
    lab/postgres.py starts PostgreSQL: its own data directory, loopback only, its own port, stopped by pid at
    the end. It has a database `lakeprobe` and a user `lakeprobe` with `password`, which commands get from
    the environment (LAKEPROBE_SQL_PASSWORD), never from a URL."""

    def __init__(self, directory: Path, port: int = MARIADB_PORT, password: str = "mariadb-test-secret"):
        self.dir, self.port, self.password = Path(directory), port, password
        self.data, self.socket = self.dir / "data", self.dir / "mysqld.sock"
        self.pid_file, self.log_file = self.dir / "mariadbd.pid", self.dir / "mariadbd.log"

    def url(self, database: str = "lakeprobe") -> str:
        return f"mysql+pymysql://lakeprobe@127.0.0.1:{self.port}/{database}"

    def start(self) -> "MariaDB":
        from lab import procs

        if procs.port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken: another test session's MariaDB? (LAKEPROBE_TEST_BASE_PORT)")
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.data.exists():
            made = run(
                [
                    "mariadb-install-db",
                    "--no-defaults",
                    f"--datadir={self.data}",
                    "--user=root",
                    "--auth-root-authentication-method=socket",
                    "--skip-test-db",
                ],
                env=user_env(),
                timeout=120,
            )
            assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
        # As root (--user=root): the data directory lies under the tests' own directory, which the mysql
        # user cannot enter. Loopback only, no DNS, durability traded for speed as the lab's PostgreSQL does.
        procs.start(
            [
                "/usr/sbin/mariadbd",
                "--no-defaults",
                f"--datadir={self.data}",
                "--user=root",
                "--bind-address=127.0.0.1",
                f"--port={self.port}",
                f"--socket={self.socket}",
                f"--pid-file={self.dir / 'mariadbd.own.pid'}",
                f"--log-error={self.log_file}",
                "--skip-name-resolve",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-buffer-pool-size=64M",
            ],
            pid_file=self.pid_file,
            log_file=self.dir / "mariadbd.out",
        )
        procs.wait_port(self.port, what="MariaDB", pid_file=self.pid_file, log_file=self.log_file)
        self.sql(
            "CREATE DATABASE IF NOT EXISTS lakeprobe; "
            f"CREATE USER IF NOT EXISTS 'lakeprobe'@'127.0.0.1' IDENTIFIED BY '{self.password}'; "
            "GRANT ALL ON *.* TO 'lakeprobe'@'127.0.0.1'"
        )
        return self

    def sql(self, statements: str) -> str:
        """Statements run by root over the server's socket; their output, tab-separated."""
        done = run(
            ["mariadb", "--no-defaults", "-uroot", f"--socket={self.socket}", "-N", "-B", "-e", statements],
            env=user_env(),
            timeout=60,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def stop(self):
        from lab import procs

        procs.stop(self.pid_file, timeout=30)
        procs.wait_port_closed(self.port)


def own_lake(prefix: str = "test-lake") -> str:
    """A lake name no other run on this machine has: rounds of one lake never overlap (lakeprobe/lock.py,
    machine-wide), and tests run in parallel, beside other test sessions."""
    import uuid

    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def rse_entry(davs: str | None, root: str | None, **settings) -> dict:
    """An inventory entry for an RSE of the test's own, with the lab's probe area and embargo directory."""
    protocols = {k: v for k, v in (("davs", davs), ("root", root)) if v}
    return {"protocols": protocols, "prefix": "/lakeprobe", "embargo": "/embargo", **settings}
