"""Where records go besides the run's JSONL: InfluxDB (v1 /write, or the v2 write API of influxdb-client), a
SQL database (any SQLAlchemy dialect: PostgreSQL, MariaDB/MySQL, Oracle, ...) and CERN MONIT (HTTP JSON).
Writes are batched; a sink that is down or refuses gets the records spooled on disk (results/spool/),
delivered before the next run's records or by `lakeprobe results replay`. Records have stable identities in
every store (lakeprobe/schema.py), so a replay never duplicates.

Credentials come from the environment only, never from a URL that could be spooled or printed:
INFLUX_USERNAME/INFLUX_PASSWORD (v1), INFLUX_TOKEN (v2), LAKEPROBE_SQL_PASSWORD (SQL; PostgreSQL's own
PGPASSWORD and ~/.pgpass work too), LAKEPROBE_MONIT_PASSWORD (MONIT).
"""

import hashlib
import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from lakeprobe import schema
from lakeprobe.errors import scrub
from lakeprobe.records import Record, read_jsonl
from lakeprobe.sql import insert_new, sql_engine, sql_failure, sql_url

BATCH = 5000
# MONIT documents no request size limit; 1000 documents (about 0.6 MB) keep each request modest.
MONIT_BATCH = 1000
TIMEOUT_S = 10


class SinkError(Exception):
    """A sink refused or could not be reached; the message is one line without secrets."""


@dataclass
class SinkSpec:
    """What it takes to find a sink again (it is stored with spooled records): never a secret."""

    kind: str  # influxdb-v1, influxdb-v2, sql, monit
    url: str
    database: str = ""  # v1 database
    org: str = ""  # v2
    bucket: str = ""  # v2
    producer: str = ""  # monit
    doc_type: str = ""  # monit: the documents' `type`

    def __post_init__(self):
        if self.kind == "sql":
            try:
                sql_url(self.url)
            except ValueError as e:
                raise ValueError(f"sql URL: {e}") from None
            return
        parts = urlsplit(self.url)
        if parts.password or parts.username:
            raise ValueError(f"{self.kind} URL must not carry credentials: use the environment (README, Sinks)")
        if self.kind == "influxdb-v1" and not self.database or self.kind == "influxdb-v2" and not self.bucket:
            raise ValueError(f"{self.kind} needs a {'database' if self.kind == 'influxdb-v1' else 'bucket'}")
        if self.kind == "monit" and not (self.producer and self.doc_type):
            raise ValueError("monit needs a producer and a document type (--monit-producer, --monit-type)")
        if self.kind == "monit" and parts.scheme not in ("http", "https"):
            raise ValueError(f"monit URL must be http:// or https://, not {parts.scheme or 'without a scheme'}")

    @property
    def name(self) -> str:
        target = self.database or self.bucket or self.producer or urlsplit(self.url).path.strip("/")
        return f"{self.kind} {urlunsplit(urlsplit(self.url)._replace(path=''))} {target}".strip()

    @property
    def slug(self) -> str:
        return f"{self.kind}-{hashlib.sha256(self.name.encode()).hexdigest()[:10]}"


def batches(records: list[Record], size: int = BATCH):
    for start in range(0, len(records), size):
        yield records[start : start + size]


def open_sink(spec: SinkSpec):
    return {"influxdb-v1": InfluxV1, "influxdb-v2": InfluxV2, "sql": SqlWriter, "monit": Monit}[spec.kind](spec)


class InfluxV1:
    """InfluxDB 1.x /write with line protocol (also InfluxDB 1.8+ and VictoriaMetrics)."""

    def __init__(self, spec: SinkSpec):
        self.spec = spec
        user, password = os.environ.get("INFLUX_USERNAME"), os.environ.get("INFLUX_PASSWORD")
        self.auth = (user, password or "") if user else None

    def write(self, records: list[Record]):
        for batch in batches(records):
            body = "\n".join(schema.line(r) for r in batch).encode()
            try:
                reply = requests.post(
                    f"{self.spec.url.rstrip('/')}/write",
                    data=body,
                    auth=self.auth,
                    params={"db": self.spec.database, "precision": "u"},
                    timeout=TIMEOUT_S,
                )
            except requests.RequestException as e:
                raise SinkError(f"{self.spec.name} unreachable: {type(e).__name__}") from None
            if reply.status_code != 204:
                raise SinkError(f"{self.spec.name} refused the write: HTTP {reply.status_code} {reply.text[:200]}")


class InfluxV2:
    """influxdb-client's v2 write API (InfluxDB 1.8+, 2.x, 3.x), synchronous, batches of BATCH points."""

    def __init__(self, spec: SinkSpec):
        self.spec = spec

    def write(self, records: list[Record]):
        from influxdb_client import InfluxDBClient, WritePrecision
        from influxdb_client.client.write_api import SYNCHRONOUS

        try:
            with InfluxDBClient(
                url=self.spec.url, token=os.environ.get("INFLUX_TOKEN", ""), org=self.spec.org, timeout=TIMEOUT_S * 1000
            ) as client:
                writer = client.write_api(write_options=SYNCHRONOUS)
                for batch in batches(records):
                    writer.write(
                        self.spec.bucket,
                        self.spec.org,
                        [schema.line(r) for r in batch],
                        write_precision=WritePrecision.US,
                    )
        except Exception as e:  # the client raises its own and urllib3's errors: all mean "not delivered"
            raise SinkError(
                f"{self.spec.name} did not take the write: {type(e).__name__}: "
                f"{scrub(str(e)).splitlines()[0][:200] if str(e) else ''}"
            ) from None


class SqlWriter:
    """A SQL database through SQLAlchemy Core: the table is created when missing and extended with the
    columns of later versions; a record whose key is already there is left as it is."""

    def __init__(self, spec: SinkSpec):
        self.spec = spec

    def write(self, records: list[Record]):
        from sqlalchemy.exc import SQLAlchemyError

        try:
            engine = sql_engine(self.spec.url)
            try:
                with engine.begin() as db:
                    schema.create_or_extend(db)
                for batch in batches(records):
                    with engine.begin() as db:  # a batch at a time: what was written stays written
                        insert_new(db, [schema.row(r) for r in batch])
            finally:
                engine.dispose()
        except (SQLAlchemyError, OSError) as e:
            raise SinkError(f"{self.spec.name}: {sql_failure(e)}") from None


class Monit:
    """CERN MONIT's HTTP JSON endpoint: a JSON list of documents per request (lakeprobe/schema.py,
    monit_document). The per-producer endpoint (https://monit-metrics.cern.ch:10014/<producer>) takes the
    producer's password, sent with HTTP basic authentication from LAKEPROBE_MONIT_PASSWORD."""

    def __init__(self, spec: SinkSpec):
        self.spec = spec
        password = os.environ.get("LAKEPROBE_MONIT_PASSWORD")
        self.auth = (spec.producer, password) if password else None
        self.host = socket.getfqdn()

    def write(self, records: list[Record]):
        for batch in batches(records, MONIT_BATCH):
            documents = [schema.monit_document(r, self.spec.producer, self.spec.doc_type, self.host) for r in batch]
            try:
                reply = requests.post(
                    self.spec.url,
                    data=json.dumps(documents).encode(),
                    headers={"Content-Type": "application/json; charset=UTF-8"},
                    auth=self.auth,
                    timeout=TIMEOUT_S,
                )
            except requests.RequestException as e:
                raise SinkError(f"{self.spec.name} unreachable: {type(e).__name__}") from None
            if not 200 <= reply.status_code < 300:
                text = scrub(reply.text).strip().replace("\n", " ")[:200]
                raise SinkError(f"{self.spec.name} refused the documents: HTTP {reply.status_code} {text}".strip())


class Spool:
    """results/spool/<sink>/: records a sink did not take, one JSONL file per attempt, with the sink's spec."""

    def __init__(self, results_dir: Path, spec: SinkSpec):
        self.spec, self.dir = spec, results_dir / "spool" / spec.slug

    def keep(self, records: list[Record]):
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "sink.json").write_text(json.dumps(asdict(self.spec)))
        path = self.dir / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{len(list(self.dir.glob('*.jsonl')))}.jsonl"
        path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))

    def files(self) -> list[Path]:
        return sorted(self.dir.glob("*.jsonl"))

    def records(self) -> int:
        return sum(len(read_jsonl(f)) for f in self.files())

    def discard(self) -> int:
        """Drops every spooled record of this sink (one that is gone for good); returns how many."""
        count = self.records()
        for path in self.files():
            path.unlink()
        return count


def deliver(spec: SinkSpec, records: list[Record], results_dir: Path) -> tuple[int, int, str]:
    """Spooled records first, then these: (delivered, spooled, error). Never raises for a sink's failure."""
    spool, sink = Spool(results_dir, spec), open_sink(spec)
    delivered = 0
    try:
        for path in spool.files():
            backlog = read_jsonl(path)
            sink.write(backlog)
            path.unlink()
            delivered += len(backlog)
        if records:
            sink.write(records)
            delivered += len(records)
        return delivered, 0, ""
    except SinkError as e:
        if records:
            spool.keep(records)
        return delivered, spool.records(), str(e)


def spooled_specs(results_dir: Path) -> list[SinkSpec]:
    """The sinks with records waiting in results/spool/."""
    return [
        SinkSpec(**json.loads((d / "sink.json").read_text()))
        for d in sorted((results_dir / "spool").glob("*"))
        if any(d.glob("*.jsonl"))
    ]
