"""The SQL sink's dialects without a server: which URLs are taken and how (a bare dialect gets its driver,
credentials are refused in one line without being repeated), what Oracle would be sent (no Oracle server can
run here: its DDL and queries are compiled by SQLAlchemy's Oracle dialect and read), and a real run into
SQLite, in-process, which needs no server."""

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import oracle
from sqlalchemy.schema import CreateColumn, CreateTable

from lakeprobe import history, schema
from lakeprobe.records import Record, read_jsonl
from lakeprobe.sinks import SinkSpec, deliver
from lakeprobe.sql import insert_new, insert_new_portably, sql_engine, sql_url
from tests.helpers import file_lake, one_line_error, own_lake, run_pytest, user_env


@pytest.mark.parametrize(
    "given, used",
    [
        ("postgresql://lp@db:5432/mon", "postgresql+psycopg://lp@db:5432/mon"),
        ("postgres://lp@db/mon", "postgresql+psycopg://lp@db/mon"),
        ("postgresql+psycopg://lp@db/mon", "postgresql+psycopg://lp@db/mon"),
        ("mysql://lp@db:3306/mon", "mysql+pymysql://lp@db:3306/mon"),
        ("mariadb://lp@db/mon", "mariadb+pymysql://lp@db/mon"),
        ("mysql+pymysql://lp@db/mon?charset=utf8mb4", "mysql+pymysql://lp@db/mon?charset=utf8mb4"),
        ("sqlite:////var/lib/lakeprobe/results.db", "sqlite:////var/lib/lakeprobe/results.db"),
    ],
)
def test_a_url_names_its_driver_or_gets_its_dialects(given, used):
    assert sql_url(given).render_as_string() == used


@pytest.mark.parametrize(
    "url, words",
    [
        ("postgresql://lp:hunter2@db/mon", "must not carry credentials"),
        ("mysql+pymysql://lp@db/mon?password=hunter2", "must not carry credentials"),
        ("mysql+pymysql://lp@db/mon?passwd=hunter2", "must not carry credentials"),
        ("oracle+oracledb://lp:hunter2@db:1521/?service_name=MON", "must not carry credentials"),
        ("oracle+oracledb://lp@db:1521/?service_name=MON", "pip install oracledb"),
        ("oracle://lp@db:1521/?service_name=MON", "pip install oracledb"),
        ("mssql+nosuchdriver://lp@db/mon", "no database dialect and driver"),
        ("hunter2", "not a database URL"),
    ],
)
def test_refused_urls_are_one_line_and_never_repeat_the_secret(url, words):
    with pytest.raises(ValueError) as refused:
        SinkSpec("sql", url)
    assert words in str(refused.value) and "hunter2" not in str(refused.value) and "\n" not in str(refused.value)


def test_oracle_gets_a_table_it_can_make_and_queries_it_can_run():
    """Compiled by SQLAlchemy's Oracle dialect: the key a bounded VARCHAR2 (a CLOB cannot be a key), its
    reserved words quoted, the time a TIMESTAMP (to the microsecond, UTC), columns added with ADD (Oracle
    has no ADD COLUMN), the reader's query with its bound."""
    table = schema.sql_table()
    ddl = str(CreateTable(table).compile(dialect=oracle.dialect()))
    assert "key VARCHAR2(768 CHAR) NOT NULL" in ddl and "PRIMARY KEY (key)" in ddl
    assert '"check" VARCHAR2(255 CHAR) NOT NULL' in ddl and '"mode" VARCHAR2(16 CHAR)' in ddl
    assert "time TIMESTAMP NOT NULL" in ddl and "message CLOB" in ddl
    added = CreateColumn(table.c.run_kind).compile(dialect=oracle.dialect())
    assert str(added) == "run_kind VARCHAR2(16 CHAR) DEFAULT 'round' NOT NULL"
    query = sa.select(table.c.key).where(table.c.key.in_(["a", "b"]), table.c.time >= sa.bindparam("since"))
    assert "WHERE lakeprobe_check.key IN" in str(query.compile(dialect=oracle.dialect()))


@pytest.fixture
def sqlite(tmp_path):
    return f"sqlite:///{tmp_path / 'results.db'}"


def _record(check, **fields) -> Record:
    return Record(run_id="r", suite="site", check=check, rse="A", protocol="file", **fields)


def test_both_inserts_store_a_record_once(sqlite):
    rows = [schema.row(_record(c)) for c in ("connection", "mkdir")]
    engine = sql_engine(sqlite)
    with engine.begin() as db:
        schema.create_or_extend(db)
        insert_new(db, rows)
        insert_new(db, rows)
        insert_new_portably(db, rows + [schema.row(_record("upload"))])
    engine.dispose()
    assert sorted(r.check for r in history.from_sql(sqlite, 0)) == ["connection", "mkdir", "upload"]


def test_a_run_into_sqlite_stores_its_jsonl_and_a_password_on_the_command_line_is_refused(
    sqlite, tmp_path, run_pytest_here
):
    inventory = file_lake(tmp_path, lake=own_lake())
    results = tmp_path / "results"
    run = run_pytest(
        "suites/site", "--inventory", str(inventory), "--results-dir", str(results), "--sql", sqlite, env=user_env()
    )
    assert run.returncode == 0, run.stdout[-3000:]
    records = sorted((r for f in results.glob("*.jsonl") for r in read_jsonl(f)), key=lambda r: r.key)
    stored = sorted(history.from_sql(sqlite, 0), key=lambda r: r.key)
    assert [(r.key, r.status, r.blame) for r in stored] == [(r.key, r.status, r.blame) for r in records]
    assert deliver(SinkSpec("sql", sqlite), records, tmp_path)[:2] == (len(records), 0)
    assert len(history.from_sql(sqlite, 0)) == len(records)

    refused = run_pytest_here(
        "suites/site",
        "--inventory",
        str(inventory),
        "--sql",
        "mysql+pymysql://lp:hunter2@127.0.0.1:1/x",
        env=user_env(),
    )
    assert refused.returncode == 4
    assert "sql URL: must not carry credentials" in one_line_error(refused)
    assert "hunter2" not in refused.stdout + refused.stderr


def test_an_inventory_sql_section_with_a_password_is_one_line(tmp_path, run_pytest_here):
    inventory = file_lake(tmp_path, sql={"url": "mysql+pymysql://lp:hunter2@db/x"})
    refused = run_pytest_here("suites/site", "--inventory", str(inventory), env=user_env())
    assert refused.returncode == 4
    line = one_line_error(refused)
    assert "sql.url: must not carry credentials" in line and "line" in line
    assert "hunter2" not in refused.stdout + refused.stderr
