"""Downtimes the lake's sites declare in GOCDB (the EGI/WLCG configuration database): an RSE with an ongoing
outage there is in downtime for the whole run, as if the inventory said so (`downtime_feed:` in the inventory).

The feed is GOCDB's public XML of method get_downtime (`.../gocdbpi/public/?method=get_downtime&ongoing_only=yes`):
a `<results>` root with one `<DOWNTIME>` element per affected service (a downtime of three services comes three
times), its attributes ID, PRIMARY_KEY and CLASSIFICATION (SCHEDULED or UNSCHEDULED), its children the service's
HOSTNAME, SERVICE_TYPE, ENDPOINT (host and type run together), HOSTED_BY (the site), AFFECTED_ENDPOINTS (each
with its URL), then SEVERITY (OUTAGE, or WARNING: at risk), DESCRIPTION, START_DATE and END_DATE in epoch
seconds and their FORMATED_* forms. GOCDB answers a bad query with an `<error>` root.

A downtime applies to an RSE when
- its HOSTNAME is the host of one of the RSE's endpoints, on the endpoint's port when an affected endpoint's
  URL on that host names one (several RSEs may share a host name, on different ports); or
- the RSE names its GOCDB site (`gocdb_site`), and the site hosts the downtime's service, of a storage type.
Only an OUTAGE ongoing now (START_DATE <= now < END_DATE) puts an RSE in downtime; a WARNING is only told.

Read once per run, by the process that starts it, under a deadline. A feed that cannot be read or parsed
marks nothing: the run probes as if there were no feed, and says so (the terminal, and the services suite's
`downtime_feed` check, blamed on the feed, from what this read left in the run's shared directory).
"""

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree  # expat >= 2.4 refuses entity expansion bombs; no external entity is read

import requests

from lakeprobe.classify import classify
from lakeprobe.deadline import call_with_deadline
from lakeprobe.errors import ErrorClass, ProbeFailure, scrub
from lakeprobe.inventory import RSE, DowntimeFeed, Inventory

SERVICE = "gocdb"  # what the feed's record names, and blames
MAX_BYTES = 64 * 2**20  # all of EGI's ongoing downtimes fit in well under 1 MB: more is not a downtime list
DEFAULT_PORTS = {"davs": 443, "root": 1094}  # the port of an endpoint whose URL names none
READING_FILE = "downtime-feed.json"  # in the run's shared directory, for the services suite's check
LINE_WIDTH = 100


class FeedError(Exception):
    """The feed could not be read or is not a GOCDB downtime list; the message says why, in a few words."""

    def __init__(self, error_class: str, message: str):
        super().__init__(scrub(message))
        self.error_class = ErrorClass(error_class)


@dataclass(frozen=True)
class Downtime:
    id: str
    severity: str  # OUTAGE or WARNING
    classification: str  # SCHEDULED or UNSCHEDULED
    description: str
    hostname: str  # lower case
    service_type: str
    site: str  # HOSTED_BY
    start: int
    end: int
    ports: frozenset[int] = frozenset()  # named by the affected endpoints' URLs on `hostname`

    @property
    def is_outage(self) -> bool:
        return self.severity == "OUTAGE"

    def ongoing(self, now: float) -> bool:
        return self.start <= now < self.end

    def applies_to(self, rse: RSE, storage_types: frozenset[str]) -> bool:
        """`storage_types`: the service types that are storage, case folded."""
        at_site = rse.gocdb_site and rse.gocdb_site.casefold() == self.site.casefold()
        if at_site and self.service_type.casefold() in storage_types:
            return True
        return any(host == self.hostname and (not self.ports or port in self.ports) for host, port in _hosts(rse))

    def reason(self) -> str:
        """What the RSE's downtime records say (after `downtime of RSE: `)."""
        until = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.end))
        kind = f"{self.classification.lower()} " if self.classification else ""
        description = " ".join(self.description.split())[:200]
        return f"GOCDB {kind}outage {self.id} until {until}" + (f": {description}" if description else "")


def _hosts(rse: RSE) -> list[tuple[str, int | None]]:
    """(host, port) of each of the RSE's endpoints on the network (file:// has none)."""
    found = []
    for scheme, url in rse.protocols.items():
        parts = urlsplit(url)
        if parts.hostname:
            found.append((parts.hostname.rstrip("."), parts.port or DEFAULT_PORTS.get(scheme)))
    return found


def parse(document: bytes | str) -> list[Downtime]:
    """Every DOWNTIME element of a get_downtime answer; FeedError for anything that is not one."""
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as e:
        raise FeedError(ErrorClass.PROTOCOL_ERROR, f"not XML ({e})") from None
    if root.tag == "error":
        raise FeedError(ErrorClass.PROTOCOL_ERROR, f"GOCDB says: {' '.join(root.itertext())[:150]}")
    if root.tag != "results":
        raise FeedError(ErrorClass.PROTOCOL_ERROR, f"not a GOCDB downtime list (<{root.tag}>, not <results>)")
    return [_downtime(element) for element in root.iter("DOWNTIME")]


def _downtime(element: ElementTree.Element) -> Downtime:
    def text(name: str) -> str:
        return (element.findtext(name) or "").strip()

    ident = element.get("ID") or element.get("PRIMARY_KEY") or text("PRIMARY_KEY") or "(no ID)"

    def epoch(name: str) -> int:
        value = text(name)
        if not value.isdigit():
            raise FeedError(ErrorClass.PROTOCOL_ERROR, f"downtime {ident}: {name} {value!r} is not epoch seconds")
        return int(value)

    hostname = text("HOSTNAME").lower().rstrip(".")
    return Downtime(
        id=ident,
        severity=text("SEVERITY").upper(),
        classification=(element.get("CLASSIFICATION") or "").upper(),
        description=text("DESCRIPTION"),
        hostname=hostname,
        service_type=text("SERVICE_TYPE"),
        site=text("HOSTED_BY"),
        start=epoch("START_DATE"),
        end=epoch("END_DATE"),
        ports=frozenset(p for url in element.iter("URL") if (p := _port_on(url.text or "", hostname))),
    )


def _port_on(url: str, hostname: str) -> int | None:
    """The port `url` names explicitly, when it is a URL on `hostname` (GOCDB also holds bare host names)."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        return None
    return port if parts.hostname and parts.hostname.rstrip(".") == hostname else None


def fetch(feed: DowntimeFeed) -> bytes:
    """The feed's document, within its deadline (the connection and every read, and all of it together)."""

    def get() -> bytes:
        with requests.get(feed.url, timeout=feed.timeout_s, stream=True, headers={"Accept": "application/xml"}) as r:
            if r.status_code != 200:
                raise FeedError(classify(f"{r.status_code} {r.reason}"), f"HTTP {r.status_code} {r.reason}")
            body = bytearray()
            for chunk in r.iter_content(1 << 16):
                body += chunk
                if len(body) > MAX_BYTES:
                    raise FeedError(ErrorClass.PROTOCOL_ERROR, f"more than {MAX_BYTES >> 20} MiB: not a downtime list")
            return bytes(body)

    try:
        return call_with_deadline(get, feed.timeout_s, f"reading the downtime feed {where(feed.url)}")
    except (ProbeFailure, requests.RequestException) as e:  # ProbeFailure: the deadline passed
        error_class = e.error_class if isinstance(e, ProbeFailure) else classify(str(e))
        if error_class == ErrorClass.TIMEOUT:
            raise FeedError(error_class, f"no answer within its {feed.timeout_s:g} s deadline") from None
        raise FeedError(error_class, f"{error_class or 'failed'}: {_cause(e)}") from None


# What a requests error says at its core, where urllib3 and ssl bury it: "[Errno 111] Connection refused",
# "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate (...)".
_CAUSES = (re.compile(r"\[Errno -?\d+\] ([^'\")]+)"), re.compile(r"(certificate verify failed: [^(']+)"))


def _cause(error: Exception) -> str:
    found = [m.group(1).strip() for m in (p.search(str(error)) for p in _CAUSES) if m]
    return found[0] if found else type(error).__name__


def where(url: str) -> str:
    """host[:port] of a URL: enough to name the feed in a line."""
    return urlsplit(url).netloc


@dataclass
class Reading:
    """What reading the feed found, as the terminal and the services suite's check tell it."""

    url: str
    error_class: str = ""  # empty when the feed was read and parsed
    reason: str = ""  # why it was not
    duration_s: float = 0.0
    ongoing: int = 0  # ongoing downtimes in the feed (of any site)
    in_downtime: list[str] = field(default_factory=list)  # RSEs the feed put in downtime
    at_risk: list[str] = field(default_factory=list)  # RSEs with an ongoing WARNING only

    def line(self) -> str:
        """One line of at most LINE_WIDTH columns: what was found, or why nothing was."""
        feed = f"downtime feed {where(self.url)}"
        if self.error_class:
            return _fit(f"{feed} not read (", self.reason, "): probing without it")
        found = [f"in downtime {', '.join(self.in_downtime)}"] if self.in_downtime else []
        found += [f"at risk {', '.join(self.at_risk)}"] if self.at_risk else []
        told = "; ".join(found) or "no outage of this lake's RSEs"
        return _fit(f"{feed}: ", told, f" ({self.ongoing} ongoing downtimes read)")

    def save(self, directory: Path):
        (directory / READING_FILE).write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, directory: Path) -> "Reading | None":
        path = directory / READING_FILE
        return cls(**json.loads(path.read_text())) if path.is_file() else None


def _fit(head: str, middle: str, tail: str) -> str:
    """head + middle + tail in LINE_WIDTH columns, cutting the middle (a reason, a list of RSEs) if need be."""
    room = LINE_WIDTH - len(head) - len(tail)
    return head + (middle if len(middle) <= room else middle[: max(room - 3, 0)] + "...") + tail


def read(inventory: Inventory) -> tuple[Inventory, Reading]:
    """The inventory with the feed's ongoing outages applied to its RSEs, and what the reading found. Never
    raises: a feed that cannot be read or parsed leaves the inventory as it is. An RSE already in downtime
    (the inventory's, or Rucio's) keeps its own reason."""
    feed = inventory.downtime_feed
    assert feed is not None
    reading = Reading(feed.url)
    started = time.monotonic()
    try:
        downtimes = parse(fetch(feed))
    except FeedError as e:
        reading.error_class, reading.reason = str(e.error_class), str(e)
        return inventory, reading
    finally:
        reading.duration_s = round(time.monotonic() - started, 4)
    now = time.time()
    ongoing = [d for d in downtimes if d.ongoing(now)]
    reading.ongoing = len({d.id for d in ongoing})
    storage_types = frozenset(t.casefold() for t in feed.service_types)
    rses = dict(inventory.rses)
    for name, rse in inventory.rses.items():
        found = [d for d in ongoing if d.applies_to(rse, storage_types)]
        outages = [d for d in found if d.is_outage]
        if outages and not rse.downtime:
            last = max(outages, key=lambda d: d.end)  # the one that says when the RSE is back
            more = len({d.id for d in outages}) - 1
            reason = last.reason() + (f" (and {more} more GOCDB outage{'s' if more > 1 else ''})" if more else "")
            rses[name] = rse.model_copy(update={"downtime": reason})
            reading.in_downtime.append(name)
        elif found and not outages:
            reading.at_risk.append(name)
    return inventory.model_copy(update={"rses": rses}), reading
