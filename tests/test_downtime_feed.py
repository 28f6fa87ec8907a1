"""The GOCDB downtime feed (inventory `downtime_feed`, lakeprobe/downtime_feed.py): the parser on documents
shaped as GOCDB's get_downtime answers them, the matching of downtimes to RSEs, and runs of `pytest suites` as
a user types them, on lakes of local directories (file://) and of endpoints nobody listens on, with the feed
served by a real HTTP server on loopback (or by a socket that never answers). No lab."""

import http.server
import json
import socket
import time
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import pytest
import yaml

from lakeprobe import downtime_feed
from lakeprobe.downtime_feed import Downtime, FeedError
from lakeprobe.inventory import RSE, validate
from tests.helpers import file_lake, local_http, one_line_error, own_lake, run_pytest, serving, user_env

CHAIN = ["connection", "mkdir", "upload", "stat", "checksum", "download", "list", "delete", "stat_after_delete"]
HOUR = 3600
STORAGE = frozenset(t.casefold() for t in ("webdav", "XRootD", "SRM"))


def downtime_xml(
    ident: int,
    host: str,
    *,
    severity="OUTAGE",
    starts=-HOUR,
    ends=2 * HOUR,
    site="SITE-A",
    service_type="webdav",
    urls=(),
    classification="SCHEDULED",
    description="Storage upgrade",
) -> str:
    """One DOWNTIME element as GOCDB's get_downtime writes it (one per affected service), its start and end
    `starts` and `ends` seconds from now."""
    now = int(time.time())
    start, end = now + starts, now + ends

    def formatted(t):
        return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))

    endpoints = "".join(
        f"<ENDPOINT><ID>{ident}{n}</ID><NAME>{host} endpoint {n}</NAME><URL>{escape(url)}</URL>"
        f"<INTERFACENAME>{service_type}</INTERFACENAME><ENDPOINT_MONITORED>Y</ENDPOINT_MONITORED></ENDPOINT>"
        for n, url in enumerate(urls)
    )
    return f"""
  <DOWNTIME ID="{ident}" PRIMARY_KEY="{ident}G0" CLASSIFICATION="{classification}">
    <PRIMARY_KEY>{ident}G0</PRIMARY_KEY>
    <HOSTNAME>{host}</HOSTNAME>
    <SERVICE_TYPE>{service_type}</SERVICE_TYPE>
    <ENDPOINT>{host}{service_type}</ENDPOINT>
    <HOSTED_BY>{site}</HOSTED_BY>
    <GOCDB_PORTAL_URL>https://goc.egi.eu/portal/index.php?Page_Type=Downtime&amp;id={ident}</GOCDB_PORTAL_URL>
    {f"<AFFECTED_ENDPOINTS>{endpoints}</AFFECTED_ENDPOINTS>" if endpoints else "<AFFECTED_ENDPOINTS/>"}
    <SEVERITY>{severity}</SEVERITY>
    <DESCRIPTION>{escape(description)}</DESCRIPTION>
    <INSERT_DATE>{start - 2 * 86400}</INSERT_DATE>
    <START_DATE>{start}</START_DATE>
    <END_DATE>{end}</END_DATE>
    <FORMATED_START_DATE>{formatted(start)}</FORMATED_START_DATE>
    <FORMATED_END_DATE>{formatted(end)}</FORMATED_END_DATE>
  </DOWNTIME>"""


def document(*downtimes: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<results>' + "".join(downtimes) + "\n</results>\n").encode()


class Feed:
    """What the GOCDB stand-in answers, and the requests it got."""

    def __init__(self):
        self.status, self.body, self.requests, self.url = 200, document(), [], ""


@pytest.fixture
def gocdb():
    """A GOCDB stand-in on loopback, answering every GET with the feed's status and body."""
    feed = Feed()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            feed.requests.append(self.path)
            self.send_response(feed.status)
            self.send_header("Content-Type", "text/xml; charset=UTF-8")
            self.send_header("Content-Length", str(len(feed.body)))
            self.end_headers()
            self.wfile.write(feed.body)

        def log_message(self, *args):
            pass

    with serving(local_http(Handler)) as server:
        feed.url = f"http://127.0.0.1:{server.server_port}/gocdbpi/public/?method=get_downtime&ongoing_only=yes"
        yield feed


def closed_port() -> int:
    """A loopback port nothing listens on (refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_feed():
    """A feed that takes connections and never answers: the kernel completes them, nobody reads them."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"http://127.0.0.1:{s.getsockname()[1]}/gocdbpi/public/?method=get_downtime&ongoing_only=yes"


def lake(tmp_path, url, rses=("DISK1", "DISK2"), timeout_s=10, **settings):
    """A file:// lake reading the feed at `url`; `settings`: RSE name -> its extra keys (or a whole RSE)."""
    feed = {"url": url, "timeout_s": timeout_s}
    path = file_lake(tmp_path, rses=rses, lake=own_lake("feed-lake"), downtime_feed=feed)  # rounds run in parallel
    data = yaml.safe_load(path.read_text())
    for name, extra in settings.items():
        data["rses"].setdefault(name, {}).update(extra)
    path.write_text(yaml.safe_dump(data))
    return path


def probe(inventory, tmp_path, *args, suite="suites", run=run_pytest):
    results = tmp_path / "results"
    started = time.monotonic()
    proc = run(suite, "--inventory", str(inventory), "--results-dir", str(results), *args, env=user_env())
    seconds = time.monotonic() - started
    records = [json.loads(line) for f in results.glob("*.jsonl") for line in f.read_text().splitlines()]
    return proc, records, seconds


def _until(body: bytes, ident: str) -> str:
    """The end of a downtime of the document, as the records say it."""
    end = next(d.end for d in downtime_feed.parse(body) if d.id == ident)
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(end))


def feed_lines(proc) -> list[str]:
    return [line for line in proc.stdout.splitlines() if line.startswith("downtime feed ")]


# --- the format, as GOCDB sends it ---


def test_parse_reads_what_gocdb_sends():
    found = downtime_feed.parse(
        document(
            # one downtime of two services of a host: GOCDB repeats it, once per service
            downtime_xml(
                32578,
                "SE01.Site-A.example.org",
                service_type="webdav",
                urls=["https://se01.site-a.example.org:2880/dpm/home", "se01.site-a.example.org"],
                description="dCache 9.2 upgrade & <database> migration",
            ),
            downtime_xml(
                32578, "se01.site-a.example.org", service_type="XRootD", urls=["root://se01.site-a.example.org:1094/"]
            ),
            downtime_xml(
                32579, "ce.site-b.example.org", severity="WARNING", classification="UNSCHEDULED", site="SITE-B"
            ),
        )
    )
    assert [(d.id, d.severity, d.classification, d.service_type, d.site) for d in found] == [
        ("32578", "OUTAGE", "SCHEDULED", "webdav", "SITE-A"),
        ("32578", "OUTAGE", "SCHEDULED", "XRootD", "SITE-A"),
        ("32579", "WARNING", "UNSCHEDULED", "webdav", "SITE-B"),
    ]
    webdav = found[0]
    assert webdav.hostname == "se01.site-a.example.org"
    assert webdav.ports == {2880}  # a bare host name among the URLs names no port
    assert found[1].ports == {1094} and found[2].ports == frozenset()
    assert webdav.description == "dCache 9.2 upgrade & <database> migration"
    assert webdav.end - webdav.start == 3 * HOUR and webdav.ongoing(time.time()) and webdav.is_outage
    until = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(webdav.end))
    assert webdav.reason() == f"GOCDB scheduled outage 32578 until {until}: dCache 9.2 upgrade & <database> migration"


def test_an_empty_list_is_no_downtime():
    assert downtime_feed.parse(b'<?xml version="1.0" encoding="UTF-8"?>\n<results/>\n') == []


@pytest.mark.parametrize(
    "body, says",
    [
        (document(downtime_xml(1, "se.example.org"))[:-40], "not XML"),
        (b"<html><body><h1>Service unavailable</h1></body></html>", "not a GOCDB downtime list (<html>"),
        (
            b"<error>Invalid ongoing_only value - must be 'yes' or 'no'</error>",
            "GOCDB says: Invalid ongoing_only value",
        ),
        (document(downtime_xml(7, "se.example.org")).replace(b"<END_DATE>", b"<END_DATE>soon"), "downtime 7: END_DATE"),
        (b"", "not XML"),
    ],
    ids=["truncated", "html", "gocdb-error", "bad-date", "empty"],
)
def test_what_is_not_a_downtime_list_is_refused_in_a_few_words(body, says):
    with pytest.raises(FeedError) as refused:
        downtime_feed.parse(body)
    assert says in str(refused.value) and refused.value.error_class == "protocol_error"


# --- which RSEs a downtime applies to ---


def _rse(name="SE", site="", **protocols) -> RSE:
    return RSE(name=name, protocols=protocols or {"davs": "davs://se.example.org:2880/"}, gocdb_site=site)


def _downtime(host="se.example.org", ports=(), site="SITE-A", service_type="webdav") -> Downtime:
    return Downtime("1", "OUTAGE", "SCHEDULED", "", host, service_type, site, 0, 1, frozenset(ports))


@pytest.mark.parametrize(
    "downtime, rse, applies",
    [
        (_downtime(), _rse(davs="davs://se.example.org:2880/", root="root://se.example.org:1094/"), True),
        (_downtime(ports=[2880]), _rse(davs="davs://se.example.org:2880/"), True),
        (_downtime(ports=[2880]), _rse(davs="davs://se.example.org:8443/"), False),  # another RSE on the host
        (_downtime(ports=[2880]), _rse(root="root://se.example.org:1094/"), False),
        (_downtime(ports=[443]), _rse(davs="davs://se.example.org/"), True),  # davs:// without a port is 443
        (_downtime(ports=[1094]), _rse(root="root://se.example.org/"), True),  # root:// without a port is 1094
        (_downtime(host="other.example.org"), _rse(), False),
        (_downtime(), _rse(davs="davs://SE.Example.ORG.:2880/"), True),  # host names have no case
        (_downtime(host="elsewhere.example.org"), _rse(site="site-a"), True),  # by site, whatever the host
        (_downtime(host="elsewhere.example.org", service_type="SRM"), _rse(site="SITE-A"), True),
        (_downtime(host="bdii.example.org", service_type="Site-BDII"), _rse(site="SITE-A"), False),  # no storage
        (_downtime(host="elsewhere.example.org"), _rse(site="SITE-B"), False),
        (_downtime(host=""), _rse(file="file:///mnt/scratch/"), False),  # file:// has no host
    ],
    ids=[
        "host-any-port",
        "host-and-port",
        "other-port-same-host",
        "other-protocol-port",
        "davs-default-port",
        "root-default-port",
        "other-host",
        "host-case",
        "site-webdav",
        "site-srm",
        "site-not-storage",
        "other-site",
        "file-rse",
    ],
)
def test_which_rses_a_downtime_applies_to(downtime, rse, applies):
    assert downtime.applies_to(rse, STORAGE) is applies


def test_reading_applies_the_outage_that_ends_last_and_leaves_the_inventory_as_it_was(gocdb):
    gocdb.body = document(
        downtime_xml(5001, "se.example.org", ends=HOUR, description="network"),
        downtime_xml(5001, "se.example.org", ends=HOUR, service_type="XRootD", description="network"),
        downtime_xml(5002, "se.example.org", ends=5 * HOUR, classification="UNSCHEDULED", description="fire"),
        downtime_xml(5003, "se.example.org", severity="WARNING"),
        downtime_xml(5004, "other.example.org", severity="WARNING"),
    )
    inventory = validate(
        {
            "downtime_feed": {"url": gocdb.url},
            "rses": {
                "SE": {"name": "SE", "protocols": {"davs": "davs://se.example.org:2880/"}},
                "OTHER": {"name": "OTHER", "protocols": {"root": "root://other.example.org:1094/"}},
            },
        },
        "lake.yaml",
    )
    applied, reading = downtime_feed.read(inventory)
    until = _until(gocdb.body, "5002")
    assert applied.rses["SE"].downtime == f"GOCDB unscheduled outage 5002 until {until}: fire (and 1 more GOCDB outage)"
    assert applied.rses["OTHER"].downtime == "" and inventory.rses["SE"].downtime == ""
    assert (reading.in_downtime, reading.at_risk, reading.ongoing, reading.error_class) == (["SE"], ["OTHER"], 4, "")


# --- runs of the suites, as a user types them ---


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "two workers"])
def test_an_ongoing_outage_puts_its_rse_in_downtime_and_nothing_else_does(workers, tmp_path, gocdb):
    gocdb.body = document(
        downtime_xml(1001, "se01.site-a.example.org", site="SITE-A", description="Annual dCache upgrade"),
        downtime_xml(2001, "se.site-b.example.org", site="SITE-B", severity="WARNING"),  # at risk only
        downtime_xml(2002, "se.site-b.example.org", site="SITE-B", starts=-3 * HOUR, ends=-HOUR),  # over
        downtime_xml(2003, "se.site-b.example.org", site="SITE-B", starts=HOUR, ends=3 * HOUR),  # to come
        downtime_xml(2004, "bdii.site-b.example.org", site="SITE-B", service_type="Site-BDII"),  # not storage
        downtime_xml(3001, "xrootd.site-c.example.org", site="SITE-C", service_type="XRootD"),  # not ours
    )
    inventory = lake(
        tmp_path,
        gocdb.url,
        rses=("DISK1", "DISK2", "DISK3", "DISK4"),
        DISK1={"gocdb_site": "SITE-A"},
        DISK2={"gocdb_site": "SITE-B"},
        DISK3={"gocdb_site": "SITE-A", "downtime": "disk controller replaced"},  # its own reason stays
    )
    proc, records, _ = probe(inventory, tmp_path, *workers)
    assert proc.returncode == 0, proc.stdout[-3000:]
    until = _until(gocdb.body, "1001")
    disk1 = [r for r in records if r["rse"] == "DISK1"]
    assert disk1 and {r["status"] for r in disk1} == {"downtime"}
    assert {r["message"].split(" until ")[0] for r in disk1} == {"downtime of DISK1: GOCDB scheduled outage 1001"}
    assert all(r["message"].endswith(f" until {until}: Annual dCache upgrade") for r in disk1)
    assert {r["message"] for r in records if r["rse"] == "DISK3"} == {"downtime of DISK3: disk controller replaced"}
    chains = {
        (r["rse"], r["check"]): r["status"] for r in records if r["check"] in CHAIN and r["rse"] in ("DISK2", "DISK4")
    }
    assert chains == {(rse, check): "pass" for rse in ("DISK2", "DISK4") for check in CHAIN}
    assert not [r for r in records if r["status"] == "downtime" and r["rse"] not in ("DISK1", "DISK3")]
    checked = [r for r in records if r["check"] == "downtime_feed"]
    assert [(r["rse"], r["status"], r["suite"]) for r in checked] == [("gocdb", "pass", "services")]
    assert feed_lines(proc) == [
        f"downtime feed {urlsplit(gocdb.url).netloc}: in downtime DISK1; at risk DISK2 (4 ongoing downtimes read)"
    ]
    assert len(gocdb.requests) == 1, "the feed is read once per run, by the process that starts it"


def test_a_downtime_on_a_host_names_its_port_when_rses_share_the_host(tmp_path, gocdb):
    """WEB1 and WEB2 share a host, on two ports: GOCDB's downtime names WEB1's port in its endpoint's URL. A
    downtime of a host whose URLs name no port covers every endpoint there (WEB3). Nothing listens on these
    ports: an endpoint in downtime is never judged, one that is not fails its connection."""
    web1, web2, web3 = closed_port(), closed_port(), closed_port()
    gocdb.body = document(
        downtime_xml(4001, "127.0.0.1", urls=[f"https://127.0.0.1:{web1}/webdav"], site="SITE-W"),
        downtime_xml(4002, "localhost", service_type="XRootD", site="SITE-X"),
    )
    inventory = lake(
        tmp_path,
        gocdb.url,
        rses=("DISK1",),
        WEB1={"protocols": {"davs": f"davs://127.0.0.1:{web1}/"}},
        WEB2={"protocols": {"davs": f"davs://127.0.0.1:{web2}/"}},
        WEB3={"protocols": {"root": f"root://localhost:{web3}/"}},
    )
    proc, records, _ = probe(inventory, tmp_path, "--retries", "0", "--timeout", "5", suite="suites/site")
    assert proc.returncode == 1, proc.stdout[-3000:]
    status: dict[str, set] = {}
    for r in records:
        if not r["peer"]:  # each RSE's own checks; a copy between WEB1 and WEB2 is in WEB1's downtime
            status.setdefault(r["rse"], set()).add(r["status"])
    assert {r["status"] for r in records if "WEB1" in (r["rse"], r["peer"])} == {"downtime"}
    assert status["WEB1"] == {"downtime"} and status["WEB3"] == {"downtime"}
    assert {r["message"].split(" until ")[0] for r in records if r["rse"] == "WEB1"} == {
        "downtime of WEB1: GOCDB scheduled outage 4001"
    }
    assert {r["message"].split(" until ")[0] for r in records if r["rse"] == "WEB3"} == {
        "downtime of WEB3: GOCDB scheduled outage 4002"
    }
    connection = next(r for r in records if r["rse"] == "WEB2" and r["check"] == "connection")
    assert connection["status"] == "fail" and connection["error_class"] == "unreachable"
    assert "downtime" not in status["WEB2"]
    assert {r["check"]: r["status"] for r in records if r["rse"] == "DISK1" and r["check"] in CHAIN} == {
        check: "pass" for check in CHAIN
    }
    assert [line.split(": ", 1)[1] for line in feed_lines(proc)] == [
        "in downtime WEB1, WEB3 (2 ongoing downtimes read)"
    ]


@pytest.mark.parametrize(
    "failure, says, error_class",
    [
        ("down", "not read (unreachable: Connection refused)", "unreachable"),
        ("hanging", "not read (no answer within its 2 s deadline)", "timeout"),
        ("garbage", "not read (not XML (", "protocol_error"),
        ("http-503", "not read (HTTP 503 Service Unavailable)", "unknown"),
        ("gocdb-error", "not read (GOCDB says: Invalid parameter", "protocol_error"),
    ],
)
def test_a_feed_that_cannot_be_read_marks_nothing_and_says_so_once(
    failure, says, error_class, tmp_path, gocdb, silent_feed
):
    url = {"down": f"http://127.0.0.1:{closed_port()}/gocdbpi/public/", "hanging": silent_feed}.get(failure, gocdb.url)
    ongoing = downtime_xml(1001, "se01.site-a.example.org", site="SITE-A")  # would put DISK1 in downtime
    gocdb.status, gocdb.body = {
        "garbage": (200, document(ongoing)[:-30]),
        "http-503": (503, b"<html><body>GOCDB is down for maintenance</body></html>"),
        "gocdb-error": (200, b"<error>Invalid parameter combination - do not specify startdate</error>"),
    }.get(failure, (200, document(ongoing)))
    inventory = lake(tmp_path, url, timeout_s=2, DISK1={"gocdb_site": "SITE-A"})
    proc, records, seconds = probe(inventory, tmp_path)
    assert proc.returncode == 1, proc.stdout[-3000:]  # the feed's check is in error: a finding
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = feed_lines(proc)
    assert len(lines) == 1 and says in lines[0] and lines[0].endswith(": probing without it"), lines
    assert len(lines[0]) <= 100
    assert not [r for r in records if r["status"] == "downtime"]
    chains = {(r["rse"], r["check"]): r["status"] for r in records if r["check"] in CHAIN}
    assert chains == {(rse, check): "pass" for rse in ("DISK1", "DISK2") for check in CHAIN}
    checked = next(r for r in records if r["check"] == "downtime_feed")
    assert (checked["status"], checked["error_class"], checked["blame"]) == ("error", error_class, "gocdb")
    assert says.removeprefix("not read (") in checked["message"] and url in checked["message"]
    if failure == "hanging":  # the run pays the feed's deadline once, and no more
        assert 2 <= checked["duration_s"] < 3.5 and seconds < 30, (checked["duration_s"], seconds)


MISTAKES = [
    ("ftp-url", {"url": "ftp://goc.example.org/downtimes.xml"}, ["downtime_feed.url", "ftp:// is not https://"]),
    ("no-scheme", {"url": "goc.egi.eu/gocdbpi/public/"}, ["downtime_feed.url", "is not a URL"]),
    (
        "credentials",
        {"url": "https://probe:hunter2@goc.example.org/gocdbpi/public/?method=get_downtime"},
        ["downtime_feed.url", "credentials"],
    ),
    ("no-url", {"timeout_s": 5}, ["downtime_feed.url is required"]),
    ("zero-timeout", {"url": "{feed}", "timeout_s": 0}, ["downtime_feed.timeout_s", "greater than 0"]),
    ("typo", {"url": "{feed}", "timout_s": 5}, ["unknown key 'downtime_feed.timout_s'"]),
    ("no-service-types", {"url": "{feed}", "service_types": []}, ["downtime_feed.service_types"]),
]


@pytest.mark.parametrize("name, feed, says", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_feed_mistakes_are_one_line_before_anything_runs(name, feed, says, tmp_path, gocdb, run_pytest_here):
    inventory = file_lake(tmp_path, downtime_feed={k: (gocdb.url if v == "{feed}" else v) for k, v in feed.items()})
    proc, records, _ = probe(inventory, tmp_path, suite="suites/site", run=run_pytest_here)
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
    line = one_line_error(proc)
    assert f"inventory {inventory} line " in line and all(word in line for word in says), line
    assert "hunter2" not in proc.stdout + proc.stderr
    assert records == [] and gocdb.requests == [], "nothing ran, the feed was not read"


def test_a_gocdb_site_that_is_not_a_name_is_one_line(tmp_path, gocdb, run_pytest_here):
    inventory = lake(tmp_path, gocdb.url, DISK2={"gocdb_site": ["SITE-A", "SITE-B"]})
    proc, records, _ = probe(inventory, tmp_path, suite="suites/site", run=run_pytest_here)
    assert proc.returncode == 4
    line = one_line_error(proc)
    assert "RSE DISK2: gocdb_site" in line and " line " in line, line
    assert records == [] and gocdb.requests == []
