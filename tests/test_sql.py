"""The SQL sink on real databases of two dialects: the test lab's PostgreSQL and a MariaDB of the tests' own
(Debian's mariadb-server, its own data directory, loopback, port base+900). A run stores exactly its JSONL,
delivering twice stores once, a first version's table gets the new columns, every field reads back, a wrong
password spools and a replay delivers, and the password only ever comes from the environment."""

import uuid

import pytest
import sqlalchemy as sa

from lakeprobe import history, schema
from lakeprobe.records import Record, read_jsonl
from lakeprobe.sinks import SinkSpec, Spool, deliver
from lakeprobe.sql import insert_new_portably, sql_engine
from tests.helpers import MARIADB_PORT, MariaDB, file_lake, lakeprobe_cli, own_lake, run_pytest, user_env

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory):
    server = MariaDB(tmp_path_factory.mktemp("mariadb"), port=MARIADB_PORT).start()
    yield server
    server.stop()


class Database:
    """One empty test database: its URL as a user writes it, and the environment commands need."""

    def __init__(self, url: str, env):
        self.url, self.env = url, env

    def rows(self, run_id: str | None = None) -> list[dict]:
        table = schema.sql_table()
        query = sa.select(table)
        if run_id:
            query = query.where(table.c.run_id == run_id)
        engine = sql_engine(self.url)
        try:
            with engine.connect() as db:
                return [dict(r) for r in db.execute(query).mappings()]
        finally:
            engine.dispose()

    def columns(self) -> set[str]:
        engine = sql_engine(self.url)
        try:
            with engine.connect() as db:
                return {c["name"] for c in sa.inspect(db).get_columns(schema.TABLE)}
        finally:
            engine.dispose()


@pytest.fixture(params=["postgresql", "mariadb"])
def database(request, lab, mariadb, monkeypatch):
    """An empty database of each dialect: a new PostgreSQL database on the lab's server (as plain
    postgresql://, which the sink maps to psycopg), MariaDB's `lakeprobe` with its table dropped."""
    if request.param == "postgresql":
        name = f"sqltest_{uuid.uuid4().hex[:8]}"
        lab.postgres.psql("postgres", f"CREATE DATABASE {name}")
        url = f"postgresql://postgres@127.0.0.1:{lab.layout.port('postgres')}/{name}"
        yield Database(url, user_env())
        lab.postgres.psql("postgres", f"DROP DATABASE {name}")
    else:
        monkeypatch.setenv("LAKEPROBE_SQL_PASSWORD", mariadb.password)  # for this process's own reads
        mariadb.sql(f"DROP TABLE IF EXISTS lakeprobe.{schema.TABLE}")
        yield Database(mariadb.url(), user_env(LAKEPROBE_SQL_PASSWORD=mariadb.password))


def _identity(values: dict) -> tuple:
    return tuple(values.get(k) or "" for k in ("check", "rse", "protocol", "peer", "mode", "status", "error_class"))


def test_a_run_stores_exactly_its_jsonl_and_a_second_delivery_stores_nothing(database, tmp_path):
    """PostgreSQL through --sql, MariaDB through the inventory's `sql:` section; a real run of a lake of local
    directories (no storage server needed)."""
    if database.url.startswith("mysql"):
        inventory, extra = file_lake(tmp_path, lake=own_lake(), sql={"url": database.url}), []
    else:
        inventory, extra = file_lake(tmp_path, lake=own_lake()), ["--sql", database.url]
    results = tmp_path / "results"
    proc = run_pytest(
        "suites/site", "--inventory", str(inventory), "--results-dir", str(results), *extra, env=database.env
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    records = [r for f in results.glob("*.jsonl") for r in read_jsonl(f)]
    assert f"sql {database.url.split('@')[0]}" in proc.stdout and f"{len(records)} records written" in proc.stdout
    stored = database.rows(records[0].run_id)
    assert sorted(map(_identity, stored)) == sorted(_identity(r.to_dict()) for r in records)
    assert {r["key"] for r in stored} == {r.key for r in records}

    # The same records delivered again (a replay after a partial write) store nothing twice.
    Spool(results, SinkSpec("sql", database.url)).keep(records)
    replay = lakeprobe_cli("results", "replay", "--results-dir", str(results), env=database.env)
    assert replay.returncode == 0 and f"{len(records)} of {len(records)} spooled records delivered" in replay.stdout
    assert len(database.rows(records[0].run_id)) == len(records)


def _first_version_table() -> sa.Table:
    """The table as lakeprobe's first SQL sink made it: no lake, run_kind or blame."""
    new = schema.sql_table()
    return sa.Table(
        schema.TABLE,
        sa.MetaData(),
        *(
            sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
            for c in new.columns
            if c.name not in schema.SQL_ADDED_LATER
        ),
    )


def test_a_first_version_table_gets_the_new_columns_and_its_rows_read_as_rounds(database, tmp_path):
    old = _first_version_table()
    engine = sql_engine(database.url)
    with engine.begin() as db:
        old.create(db)
        db.execute(
            sa.insert(old),
            [{k: v for k, v in schema.row(_record("old", "connection")).items() if k in old.c}],
        )
    engine.dispose()
    assert "blame" not in database.columns()
    new = _record("new", "upload", lake="L", status="fail", blame="XRD1")
    assert deliver(SinkSpec("sql", database.url), [new], tmp_path)[2] == ""
    assert {"lake", "run_kind", "blame"} <= database.columns()
    read = {r.run_id: r for r in history.from_sql(database.url, 0)}
    assert (read["old"].run_kind, read["old"].lake, read["old"].blame) == ("round", "", "")
    assert (read["new"].lake, read["new"].blame) == ("L", "XRD1")


def _record(run_id, check, **fields) -> Record:
    return Record(run_id=run_id, suite="site", check=check, rse="XRD1", protocol="davs", ts=1_700_000_000.5, **fields)


def test_every_field_reads_back_as_it_was_written(database, tmp_path):
    records = [
        _record(
            "r1",
            "davs_pull",
            lake="lake",
            run_kind="adhoc",
            peer="XRD2",
            mode="pull",
            status="fail",
            error_class="checksum_mismatch",
            message="adler32 \"0a1b\" ≠ 'ffff'; über\\path",
            blame="XRD1->XRD2",
            duration_s=1.25,
            bytes=5 * 2**40,
            throughput_Bps=123456.789,
            attempts=3,
        ),
        _record("r1", "connection"),
    ]
    records[1].ts = 1_700_000_001.123456
    assert deliver(SinkSpec("sql", database.url), records, tmp_path)[2] == ""
    read = sorted(history.from_sql(database.url, 1_699_999_999), key=lambda r: r.ts)
    assert len(read) == 2
    for got, wrote in zip(read, records):
        assert got.ts == pytest.approx(wrote.ts, abs=1e-6)
        got.ts = wrote.ts
        assert got == wrote
    assert history.from_sql(database.url, 1_700_000_001) == [read[1]]  # since: a bound in UTC
    chain = history.from_sql(database.url, 0, chain_checks=("connection", "davs_pull"))
    assert [r.check for r in chain] == ["connection"]  # a copy (with a peer) is no chain check


def test_the_portable_insert_stores_once_as_well(database):
    """The insert Oracle gets (keys looked up first), run on these dialects."""
    rows = [schema.row(_record("p", check)) for check in ("connection", "mkdir", "upload")]
    engine = sql_engine(database.url)
    try:
        with engine.begin() as db:
            schema.create_or_extend(db)
            insert_new_portably(db, rows[:2])
        with engine.begin() as db:
            insert_new_portably(db, rows)
    finally:
        engine.dispose()
    assert sorted(r["check"] for r in database.rows("p")) == ["connection", "mkdir", "upload"]


def test_a_wrong_password_spools_without_saying_it_and_replay_delivers(mariadb, tmp_path):
    mariadb.sql(f"DROP TABLE IF EXISTS lakeprobe.{schema.TABLE}")
    inventory = file_lake(tmp_path, lake=own_lake(), sql={"url": mariadb.url()})
    results = tmp_path / "results"
    wrong = user_env(LAKEPROBE_SQL_PASSWORD="not-the-password-42")
    proc = run_pytest("suites/site", "--inventory", str(inventory), "--results-dir", str(results), env=wrong)
    assert proc.returncode == 0, proc.stdout[-3000:]
    records = [r for f in results.glob("*.jsonl") for r in read_jsonl(f)]
    assert f"{len(records)} spooled for `lakeprobe results replay`" in proc.stdout and "Access denied" in proc.stdout
    written = proc.stdout + proc.stderr + "".join(p.read_text() for p in results.rglob("*") if p.is_file())
    assert "not-the-password-42" not in written and mariadb.password not in written

    right = user_env(LAKEPROBE_SQL_PASSWORD=mariadb.password)
    replay = lakeprobe_cli("results", "replay", "--results-dir", str(results), env=right)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert f"{len(records)} of {len(records)} spooled records delivered" in replay.stdout
    count = mariadb.sql(f"SELECT count(*) FROM lakeprobe.{schema.TABLE} WHERE run_id = '{records[0].run_id}'")
    assert int(count) == len(records)


def test_mariadb_urls_without_a_driver_and_with_the_mariadb_dialect_work(mariadb, monkeypatch, tmp_path):
    monkeypatch.setenv("LAKEPROBE_SQL_PASSWORD", mariadb.password)
    mariadb.sql(f"DROP TABLE IF EXISTS lakeprobe.{schema.TABLE}")
    for scheme in ("mysql", "mariadb", "mariadb+pymysql"):
        url = mariadb.url().replace("mysql+pymysql", scheme)
        assert deliver(SinkSpec("sql", url), [_record(scheme, "connection")], tmp_path)[2] == ""
        assert [r.run_id for r in history.from_sql(url, 0) if r.run_id == scheme] == [scheme]
