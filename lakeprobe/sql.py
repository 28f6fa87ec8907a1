"""The SQL side of lakeprobe, for the SQL sink (lakeprobe/sinks.py) and the history it reads back
(lakeprobe/history.py): a database URL checked (any SQLAlchemy dialect: PostgreSQL, MariaDB/MySQL, Oracle,
...), an engine made from it with the password from the environment, an error told in one line, and the
insert that leaves a record already there alone."""

import os

from pydantic import BaseModel, ConfigDict, field_validator

from lakeprobe import schema
from lakeprobe.errors import scrub

CONNECT_TIMEOUT_S = 10
# The driver of each dialect when the URL names none: psycopg as before; PyMySQL and python-oracledb, the
# pure-Python drivers, where SQLAlchemy's defaults (mysqlclient, cx_Oracle) need C client libraries.
SQL_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql", "oracle": "oracledb"}
# URL query parameters some drivers take a password from.
SECRET_PARAMETERS = ("password", "passwd", "pwd", "secret", "token")
# Each driver's name for the connect timeout (SQLAlchemy passes connect_args through as they are).
CONNECT_TIMEOUT = {"psycopg": "connect_timeout", "pymysql": "connect_timeout", "oracledb": "tcp_connect_timeout"}


def sql_url(text: str):
    """The SQLAlchemy URL of a SQL sink (sqlalchemy.URL), as Rucio's config writes them:
    `postgresql+psycopg://user@host:port/db`, `mysql+pymysql://...`, `oracle+oracledb://...`. A URL naming
    no driver gets its dialect's (SQL_DRIVERS; `postgres://` is PostgreSQL). Refused with a ValueError whose
    message is one line and never the URL: a password (in the URL or its query), a dialect SQLAlchemy does
    not know, a driver that is not installed."""
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = sa.make_url(text)
    except (ArgumentError, ValueError, TypeError):
        raise ValueError("not a database URL: write dialect+driver://user@host:port/database") from None
    if url.password is not None or any(k.lower() in SECRET_PARAMETERS for k in url.query):
        raise ValueError("must not carry credentials: use the environment (README, Sinks)")
    dialect, _, driver = url.drivername.partition("+")
    dialect = "postgresql" if dialect == "postgres" else dialect
    driver = driver or SQL_DRIVERS.get(dialect, "")
    url = url.set(drivername=f"{dialect}+{driver}" if driver else dialect)
    try:
        url.get_dialect().import_dbapi()
    except NoSuchModuleError:
        raise ValueError(f"{url.drivername}:// is no database dialect and driver SQLAlchemy knows") from None
    except ImportError as e:
        raise ValueError(
            f"the driver of {url.drivername}:// is not installed (pip install {e.name or driver})"
        ) from None
    return url


def sql_engine(text: str):
    """An engine for one write or one read: no pool kept, the password (if any) from the environment."""
    import sqlalchemy as sa

    url = sql_url(text)
    password = os.environ.get("LAKEPROBE_SQL_PASSWORD")
    if password:
        url = url.set(password=password)
    driver = url.get_driver_name()
    connect_args: dict = {CONNECT_TIMEOUT[driver]: CONNECT_TIMEOUT_S} if driver in CONNECT_TIMEOUT else {}
    if driver == "pymysql":
        connect_args["charset"] = "utf8mb4"  # all of UTF-8, whatever the server's default
    return sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=connect_args)


def sql_failure(e: Exception) -> str:
    """A database error in one line: the driver's own error (SQLAlchemy's text adds the statement and its
    parameters), scrubbed."""
    cause = getattr(e, "orig", None) or e
    text = scrub(str(cause)).strip().splitlines()
    return f"{type(cause).__name__}: {text[0][:200] if text else ''}"


class SqlSection(BaseModel):
    """The inventory's `sql:` section, the SQL sink of any dialect (`postgres:` is the older name)."""

    model_config = ConfigDict(extra="forbid")
    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, value):
        sql_url(value)
        return value


def insert_new(db, rows: list[dict]):
    """Inserts the rows whose key is not in the table yet, with each dialect's own insert that ignores an
    existing key (PostgreSQL and SQLite: ON CONFLICT DO NOTHING; MariaDB/MySQL: ON DUPLICATE KEY UPDATE that
    changes nothing, which unlike INSERT IGNORE lets every other error through). Other dialects (Oracle):
    the keys already there are looked up first (insert_new_portably)."""
    table = schema.sql_table()
    if db.dialect.name in ("postgresql", "sqlite"):
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        make = pg_insert if db.dialect.name == "postgresql" else sqlite_insert
        db.execute(make(table).on_conflict_do_nothing(index_elements=["key"]), rows)
    elif db.dialect.name in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        db.execute(mysql_insert(table).on_duplicate_key_update(key=table.c.key), rows)
    else:
        insert_new_portably(db, rows)


def insert_new_portably(db, rows: list[dict]):
    """Any dialect: the rows whose key is not in the table yet, found with SELECT ... IN (at most 1000 keys
    per query: Oracle's limit), then inserted. Within the caller's transaction; a concurrent writer of the
    same records makes the insert fail on the key, and the records are spooled and replayed."""
    import sqlalchemy as sa

    table = schema.sql_table()
    keys = [r["key"] for r in rows]
    present: set[str] = set()
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        present.update(db.execute(sa.select(table.c.key).where(table.c.key.in_(chunk))).scalars())
    new = [r for r in rows if r["key"] not in present]
    if new:
        db.execute(sa.insert(table), new)
