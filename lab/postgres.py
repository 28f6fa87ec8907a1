"""A private PostgreSQL cluster for Rucio's catalogue and the SQL results sink, on loopback only."""

import subprocess

from lab import procs
from lab.layout import Layout

PG_BIN = "/usr/lib/postgresql/15/bin"
DATABASES = ("rucio", "lakeprobe")


class Postgres:
    name = "postgres"

    def __init__(self, layout: Layout):
        self.layout, self.dir = layout, layout.component_dir("postgres")
        self.data, self.port = self.dir / "data", layout.port("postgres")
        self.log_file = self.dir / "postgres.log"
        self.url = f"postgresql://127.0.0.1:{self.port}"

    def _as_postgres(self, *argv, check=True):
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True, check=check, cwd="/"
        )

    def start(self):
        if self.up():
            return
        subprocess.run(["chown", "postgres:postgres", str(self.dir)], check=True)
        if not (self.data / "PG_VERSION").exists():
            # Trust on loopback only: the lab's database holds nothing but lab data.
            self._as_postgres(f"{PG_BIN}/initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")
        self._as_postgres(
            f"{PG_BIN}/pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            "30",
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        procs.wait_port(self.port, what="PostgreSQL", log_file=self.log_file)
        for db in DATABASES:
            self.ensure_database(db)

    def ensure_database(self, db: str):
        exists = self.psql("postgres", f"SELECT 1 FROM pg_database WHERE datname='{db}'").strip()
        if not exists:
            self.psql("postgres", f"CREATE DATABASE {db}")

    def psql(self, db: str, sql: str) -> str:
        return self._as_postgres(
            f"{PG_BIN}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db, "-tAc", sql
        ).stdout

    def stop(self):
        if (self.data / "postmaster.pid").exists():
            self._as_postgres(f"{PG_BIN}/pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
        procs.wait_port_closed(self.port)

    def up(self) -> bool:
        return procs.port_open(self.port)
