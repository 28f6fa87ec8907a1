"""What to probe: the lake's RSEs with their endpoints, quirks and downtimes, its token issuer and its sinks,
from a YAML inventory or from Rucio. Validated in one place, before anything runs.

The schema is a set of pydantic models: unknown keys, wrong types and out-of-range values are refused, and
so are the mistakes that would make a probe write where it must not (a prefix of `/`, `..`), fail for the
user's own reasons (a CA directory or clients file that is not there, a URL of another scheme than its
key) or leak a secret (credentials in a URL, a clients file others can read). pydantic because the models
are also the objects the code uses: one declaration gives the checks, the types and the defaults. Errors
are one line naming the file, its line, the RSE and the key. README.md, "Inventory", shows every key.
"""

import datetime
import json
import os
import posixpath
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from cryptography.x509 import load_pem_x509_certificate
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lakeprobe import paths
from lakeprobe.protocols import registry
from lakeprobe.sql import SqlSection
from lakeprobe.urls import plain_url

DEFAULT_PREFIX = "/lakeprobe"
RSE_NAME = re.compile(r"^[A-Za-z0-9]+([_.-][A-Za-z0-9]+)*$")  # Rucio's names, lower case allowed


class InventoryError(Exception):
    """Bad or missing inventory input; the message is the one line the user sees."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def probe_area(value: str) -> str:
    """An absolute, normalised directory below the storage root: the probes write there and the sweeper
    removes things there, so `/`, an empty path and `..` are refused, not interpreted."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError(f"must be an absolute path such as {DEFAULT_PREFIX}, not {value!r}")
    if ".." in value.split("/"):
        raise ValueError(f"must not contain '..' ({value!r})")
    normalised = posixpath.normpath(value)
    if normalised == "/" or normalised.startswith("//"):
        raise ValueError(
            f"must be a directory below the storage root, not {value!r}: the probes write and clean up there"
        )
    return normalised


class Quirks(_Model):
    no_checksum: bool = False  # the storage computes no checksum: nothing is verified, the checksum check skips
    checksum: str | None = None  # the algorithm the storage offers instead of adler32 (e.g. md5), on purpose
    tpc_modes: list[str] | None = None  # the copy modes it supports; copies in other modes skip
    require_dual_stack: bool = False  # a missing IPv4 or IPv6 address is a warning

    @field_validator("checksum")
    @classmethod
    def _known_algorithm(cls, value):
        from lakeprobe.checksums import ALGORITHMS

        if value is not None and value.lower() not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {value!r}; known: {', '.join(ALGORITHMS)}")
        return value and value.lower()

    @field_validator("tpc_modes", mode="before")
    @classmethod
    def _modes(cls, value):
        if isinstance(value, str):  # Rucio attributes are strings: "pull,tpc"
            value = [m.strip() for m in value.split(",") if m.strip()]
        known = registry.copy_modes()
        unknown = [m for m in value or [] if m not in known]
        if unknown:
            raise ValueError(f"unknown copy mode {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
        return value


def endpoint_name(value: str) -> str:
    if not RSE_NAME.match(value):
        raise ValueError(f"{value!r} is not an RSE name (letters, digits, and - _ . between them)")
    return value


def endpoint_protocols(value: dict[str, str]) -> dict[str, str]:
    for scheme, url in value.items():
        if scheme not in registry.schemes():
            raise ValueError(f"unknown protocol {scheme!r}; known: {', '.join(registry.schemes())}")
        try:
            registry.get(scheme).check_base(url)
        except ValueError as e:
            raise ValueError(f"{scheme}: {e}") from None
    return value


class RSE(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    protocols: dict[str, str] = Field(min_length=1)
    prefix: str = DEFAULT_PREFIX
    timeout_s: float | None = Field(default=None, gt=0, le=24 * 3600)
    max_concurrent: int | None = Field(default=None, ge=1, le=1000)
    quirks: Quirks = Quirks()
    downtime: str = ""
    embargo: str = ""
    gocdb_site: str = ""  # the site's name in GOCDB: its storage services' outages put this RSE in downtime
    # The audience its storage takes tokens for, when it is its own (https://host:port, or a name) rather
    # than the lake's (issuer.audience): every token for it is asked for this audience.
    audience: str = Field(default="", max_length=300, pattern=r"^\S*$")
    x509: bool = False  # its https and root:// take X.509 proxies of the inventory's VO (x509:) besides tokens
    macaroons: bool = False  # it issues macaroons over https (suites/credentials)

    _name = field_validator("name")(endpoint_name)
    _protocols = field_validator("protocols")(endpoint_protocols)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value):
        return probe_area(value)

    @field_validator("embargo")
    @classmethod
    def _embargo(cls, value):
        return value and probe_area(value)

    def __hash__(self):
        return hash(self.name)

    def url(self, protocol: str, path: str) -> str:
        return registry.get(protocol).join(self.protocols[protocol], path)

    def copy_modes(self, protocol: str) -> tuple[str, ...]:
        """The copy modes of `protocol` this RSE takes part in (its quirks may leave some out)."""
        modes = registry.get(protocol).copy_modes
        return tuple(m for m in modes if self.quirks.tpc_modes is None or m in self.quirks.tpc_modes)


class Cache(_Model):
    """A data cache in front of some of the lake's RSEs (XCache): clients read an origin's files through it,
    at the same paths. suites/cache probes it per protocol and origin."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    protocols: dict[str, str] = Field(min_length=1)
    origins: list[str] = Field(min_length=1)  # RSE names
    timeout_s: float | None = Field(default=None, gt=0, le=24 * 3600)
    audience: str = Field(default="", max_length=300, pattern=r"^\S*$")  # as an RSE's
    # How long it serves its copy of a file before it asks the origin whether the file changed: 0 on every
    # read (a second read cannot then be told from a fetch, and cache_hit skips); none: never, until it
    # purges or evicts the copy (XCache). cache_consistency holds it to this.
    revalidate_s: int | None = Field(default=None, ge=0, le=7 * 24 * 3600)
    # The issuer client whose token may evict a file from it (XCache's remove command); none: it evicts
    # nothing on request, and cache_evict skips.
    evict_client: str = Field(default="", max_length=100, pattern=r"^[\w.@:-]*$")

    _name = field_validator("name")(endpoint_name)
    _protocols = field_validator("protocols")(endpoint_protocols)

    @model_validator(mode="before")
    @classmethod
    def _no_revalidates(cls, data: Any):
        if isinstance(data, dict) and "revalidates" in data:
            raise ValueError("`revalidates` is now `revalidate_s`: 0 asks the origin on every read, none never")
        return data

    def __hash__(self):
        return hash(self.name)

    def endpoint(self, origin: RSE) -> RSE:
        """The cache as the storage layer sees an endpoint: its URLs, the origin's paths, its own deadline."""
        return RSE(
            name=self.name,
            protocols=self.protocols,
            prefix=origin.prefix,
            timeout_s=self.timeout_s,
            audience=self.audience,
            quirks=Quirks(no_checksum=True),
        )


def secret_file(value: str, holds: str) -> Path:
    """A file of secrets: it exists, and only its owner reads it."""
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValueError(f"{value} does not exist (it holds {holds})")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ValueError(f"{value} is readable by others (mode {mode:o}): it holds secrets, chmod 600 it")
    return path


def proxy_end(path: Path) -> datetime.datetime:
    """When the proxy in `path` ends: the first certificate of the file, the proxy itself."""
    try:
        return load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc
    except (OSError, ValueError):
        raise ValueError(f"{path} holds no PEM certificate (an X.509 proxy)") from None


class X509(_Model):
    """The probe's X.509 proxies, files renewed off-line (voms-proxy-init), read again at every use. `proxy`
    (default: $X509_USER_PROXY) is a VOMS proxy of `vo`; the others are what the RSEs must refuse, each
    check skipped without its proxy."""

    vo: str = Field(min_length=1, max_length=100, pattern=r"^[\w.-]+$")
    proxy: str = Field(default="", validate_default=True)
    expired_proxy: str | None = None  # a VOMS proxy of `vo` whose validity ended
    no_voms_proxy: str | None = None  # a proxy of the same certificate with no VOMS attributes
    other_vo_proxy: str | None = None  # a VOMS proxy of another VO

    @field_validator("proxy", mode="before")
    @classmethod
    def _proxy(cls, value):
        value = value or os.environ.get("X509_USER_PROXY", "")
        if not value:
            raise ValueError("no proxy: give x509.proxy, or set X509_USER_PROXY")
        path = secret_file(value, "an X.509 proxy")
        proxy_end(path)  # a PEM proxy; whether it expired is asked at each use (renewed off-line, it may be late)
        return str(path)

    @field_validator("expired_proxy", "no_voms_proxy", "other_vo_proxy")
    @classmethod
    def _other(cls, value):
        return value and str(secret_file(value, "an X.509 proxy"))


class Issuer(_Model):
    url: str
    audience: str = ""
    clients_file: str | None = None  # {"client id": "secret"}, mode 600
    scopes: dict[str, str] = {}  # client id -> the scopes it asks for; the checks use these client names

    @field_validator("url")
    @classmethod
    def _url(cls, value):
        return plain_url(value, ("https", "http")).rstrip("/")

    @field_validator("clients_file")
    @classmethod
    def _clients_file(cls, value):
        if value is None:
            return value
        path = secret_file(value, """the clients' secrets: {"client": "secret"}""")
        try:
            secrets = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise ValueError(f"{value} is not a JSON object of client ids and secrets ({e})") from None
        if not isinstance(secrets, dict) or not all(isinstance(v, str) for v in secrets.values()):
            raise ValueError(f"{value} is not a JSON object of client ids and secrets")
        return str(path)

    @model_validator(mode="after")
    def _every_client_has_a_secret(self):
        secrets = json.loads(Path(self.clients_file).read_text()) if self.clients_file else {}
        missing = [c for c in self.scopes if c not in secrets]
        if missing:
            raise ValueError(
                f"no secret for client {', '.join(missing)} in clients_file {self.clients_file or '(none given)'}"
            )
        return self


class Rucio(_Model):
    url: str | None = None
    config: str | None = None  # a rucio.cfg for the client (RUCIO_CONFIG); else the client's own search
    account: str | None = None
    scope: str | None = None  # the probe scope: everything the Rucio suite makes lives in it
    # token: the probe's token from the issuer is also its Rucio identity (renewed in the background);
    # config: the rucio.cfg's own authentication (userpass, x509...)
    auth: Literal["token", "config"] = "config"
    token_client: str = "probe"  # with auth: token, the issuer's client whose token Rucio accepts
    transfer_tool: str = ""  # fts3 when the lake's Rucio moves data; empty: rules to another RSE are not tried
    lifetime_s: int = Field(default=3600, ge=10)  # of what the suite makes, should its own cleanup not run
    deletion_grace_s: int = Field(default=7200, ge=0)  # after its lifetime, a file must be gone from storage
    stuck_after_s: int = Field(default=6 * 3600, ge=1)  # a rule of the probe account replicating longer is stuck

    @model_validator(mode="after")
    def _token_needs(self):
        if self.auth == "token" and not self.account:
            raise ValueError("auth: token needs the account the token maps to (account:)")
        return self

    @field_validator("url")
    @classmethod
    def _url(cls, value):
        return value and plain_url(value, ("https", "http"))


class InfluxDB(_Model):
    url: str
    database: str = ""  # 1.x
    bucket: str = ""  # 2.x/3.x
    org: str = ""

    @field_validator("url")
    @classmethod
    def _url(cls, value):
        return plain_url(value, ("https", "http"))


class PostgresSection(_Model):
    """The inventory's `postgres:` section, the older name of `sql:` (PostgreSQL only)."""

    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, value):
        plain_url(value.replace("+psycopg", ""), ("postgresql", "postgres"), user_ok=True)
        return value


class Broker(_Model):
    url: str
    user: str = ""
    password_file: str | None = None  # mode 600; else LAKEPROBE_BROKER_PASSWORD
    topic: str = "/topic/rucio.events"  # where Rucio's hermes sends its events
    vhost: str = "/"

    @field_validator("password_file")
    @classmethod
    def _password_file(cls, value):
        if value is not None:
            secret_file(value, "the broker's password")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value):
        return plain_url(value, ("stomp", "stomp+ssl"))


# GOCDB's service types of storage endpoints (case does not matter): an outage of one of these at an RSE's
# `gocdb_site` is an outage of the RSE. Its other services (compute, BDII, squid, perfSONAR...) are not.
GOCDB_STORAGE_TYPES = (
    "webdav",
    "wlcg.webdav.tape",
    "XRootD",
    "XRootD.Redirector",
    "wlcg.xrootd.tape",
    "SRM",
    "SRM.nearline",
    "globus-GRIDFTP",
    "GridFTP",
)


class DowntimeFeed(_Model):
    """A GOCDB downtime feed (method get_downtime, public XML): lakeprobe/downtime_feed.py reads it."""

    url: str
    timeout_s: float = Field(default=30, gt=0, le=600)  # the deadline of reading it, once per run
    service_types: list[str] = Field(default=list(GOCDB_STORAGE_TYPES), min_length=1)  # for `gocdb_site`

    @field_validator("url")
    @classmethod
    def _url(cls, value):
        return plain_url(value, ("https", "http"))


class Inventory(_Model):
    lake: str = ""  # the lake's name: every record carries it, and the status page shows one lake
    ca_dir: str | None = None
    issuer: Issuer | None = None
    rucio: Rucio | None = None
    influxdb: InfluxDB | None = None
    postgres: PostgresSection | None = None
    sql: SqlSection | None = None  # the SQL sink of any dialect; `postgres:` is its older name
    broker: Broker | None = None
    downtime_feed: DowntimeFeed | None = None  # ongoing outages declared in GOCDB
    rses: dict[str, RSE] = Field(min_length=1)
    caches: dict[str, Cache] = {}
    x509: X509 | None = None
    source: str = ""  # where it was read from, for messages

    @model_validator(mode="before")
    @classmethod
    def _names(cls, data: Any):
        for section in ("rses", "caches"):
            if isinstance(data, dict) and isinstance(data.get(section), dict):
                data = {
                    **data,
                    section: {
                        name: {"name": str(name), **spec} if isinstance(spec, dict) else spec
                        for name, spec in data[section].items()
                    },
                }
        return data

    @model_validator(mode="after")
    def _x509_rses_have_a_proxy(self):
        named = [r.name for r in self.rses.values() if r.x509]
        if named and not self.x509:
            raise ValueError(f"RSE {', '.join(named)}: `x509: true` needs the proxy of an `x509:` section")
        return self

    @model_validator(mode="after")
    def _caches_front_known_rses(self):
        for cache in self.caches.values():
            if cache.name in self.rses:
                raise ValueError(f"cache {cache.name}: an RSE has that name too")
            unknown = [o for o in cache.origins if o not in self.rses]
            if unknown:
                raise ValueError(f"cache {cache.name}: unknown origin {', '.join(unknown)}; origins are RSEs")
            clients = self.issuer.scopes if self.issuer else {}
            if cache.evict_client and cache.evict_client not in clients:
                raise ValueError(
                    f"cache {cache.name}: evict_client {cache.evict_client} is not a client of the issuer "
                    "(issuer: scopes)"
                )
        return self

    @field_validator("ca_dir")
    @classmethod
    def _ca_dir(cls, value):
        if value is not None and not Path(value).is_dir():
            raise ValueError(f"{value} is not a directory (the CAs the probes trust: X509_CERT_DIR)")
        return value

    def select(self, names: list[str]) -> list[RSE]:
        """The RSEs `names` (--rse) chooses: every one when it names none; none when it names caches only."""
        unknown = [n for n in names if n not in self.rses and n not in self.caches]
        if unknown:
            known = ", ".join([*sorted(self.rses), *(f"{c} (a cache)" for c in sorted(self.caches))])
            raise InventoryError(f"unknown RSE {', '.join(unknown)}; known: {known}")
        chosen = [n for n in names if n in self.rses]
        if names and not chosen:
            return []
        return [self.rses[n] for n in (chosen or sorted(self.rses))]

    def select_caches(self, names: list[str]) -> list[Cache]:
        """The caches `names` (--rse) chooses: every one when it names nothing, else those it names."""
        return [self.caches[n] for n in (names or sorted(self.caches)) if n in self.caches]


def lab_inventory() -> Path:
    """The embedded lab's inventory, when the lab is up; else a one-line error saying what to give."""
    path = paths.lab_inventory()
    if not path.exists():
        raise InventoryError(
            "no lake: start one with `lakeprobe lab up`, or pass --inventory PATH (or --rse-expression EXPR for Rucio)"
        )
    return path


def load_yaml(path: Path | str) -> Inventory:
    path = Path(path)
    try:
        text = path.read_text()
        document = yaml.compose(text)
        data = yaml.safe_load(text)
    except OSError as e:
        raise InventoryError(f"cannot read inventory {path}: {e.strerror}") from None
    except yaml.MarkedYAMLError as e:
        line = f" line {e.problem_mark.line + 1}" if e.problem_mark else ""
        raise InventoryError(f"inventory {path}{line}: not valid YAML: {e.problem}") from None
    duplicate = _duplicate_key(document)
    if duplicate:
        raise InventoryError(f"inventory {path} line {duplicate[1]}: key {duplicate[0]!r} is given twice")
    if not isinstance(data, dict):
        raise InventoryError(f"inventory {path}: expected a mapping with an `rses:` key")
    data.setdefault("lake", path.stem)
    data["source"] = str(path)
    return validate(data, str(path), lambda loc: _line_of(document, loc))


def validate(data: dict, source: str, line_of=lambda loc: None) -> Inventory:
    try:
        return Inventory.model_validate(data)
    except ValidationError as e:
        raise InventoryError(describe(e.errors()[0], source, line_of)) from None


def describe(error: Mapping[str, Any], source: str, line_of) -> str:
    """One line for the first problem: the file and line, the RSE, the key, what is wrong."""
    loc = [str(part) for part in error["loc"] if not str(part).startswith(("function-", "function_"))]
    line = line_of(loc)
    where = f"inventory {source}" + (f" line {line}" if line else "")
    if loc[:1] in (["rses"], ["caches"]) and len(loc) >= 2:
        where += f": {'RSE' if loc[0] == 'rses' else 'cache'} {loc[1]}"
        loc = loc[2:]
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key {key!r} (a typo? README.md, Inventory, lists the keys)"
    if error["type"] == "missing":
        return f"{where}: {key} is required"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}{': ' + key if key else ''}: {message}"


def _line_of(node, loc: list[str]) -> int | None:
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if str(key.value) == part:
                node, line = value, key.start_mark.line + 1
                break
        else:
            break
    return line


def _duplicate_key(node) -> tuple[str, int] | None:
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key, value in node.value:
            if key.value in seen:
                return key.value, key.start_mark.line + 1
            seen.add(key.value)
            found = _duplicate_key(value)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _duplicate_key(item)
            if found:
                return found
    return None
