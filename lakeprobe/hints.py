"""What to do about a finding: a short remedy, chosen from one table by the check, the error class, what
the storage says it is (its `Server` header, XRootD's `query config version`) and the message.

HINTS is read top to bottom and the first row that matches gives the hint: the specific rows (a check, an
implementation, a message) come before the general ones, and the last rows match every finding, so that
none is left without one. A row's text may name {rse} (for a copy: the end that did the work, whose
endpoint, prefix and implementation the hint is about), {host}, {netloc}, {port}, {prefix}, {source},
{destination}, {blame} and the named groups of its message pattern.
"""

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from lakeprobe.records import Record
from lakeprobe.untrusted import inert

HINT_CHARS = 300
IMPLEMENTATION_CHARS = 80
COPIES = ("davs_pull", "davs_push", "root_tpc")
_DEFAULT_PORTS = {"davs": "443", "https": "443", "root": "1094", "roots": "1094"}
TOKEN_CHECKS = "*scope*|*_without_read|group_access|embargo_*|no_token|expired_token|*audience*|unknown_issuer"


@dataclass(frozen=True)
class Row:
    checks: str  # fnmatch patterns of check names, separated by |
    error_class: str  # "" for any
    text: str
    implementation: str = ""  # a pattern the detected implementation must contain (case-insensitive)
    message: str = ""  # a pattern the message must contain (case-insensitive); its named groups fill the text

    def matches(self, record: Record, implementation: str) -> re.Match | None:
        if not any(fnmatchcase(record.check, p) for p in self.checks.split("|")):
            return None
        if self.error_class and self.error_class != record.error_class:
            return None
        if self.implementation and not re.search(self.implementation, implementation, re.I):
            return None
        return re.search(self.message, record.message, re.I)


HINTS = (
    # The services around the storage (the services suite).
    Row(
        "issuer_*",
        "unreachable",
        "the token issuer does not answer: check the IAM service is running and reachable at its URL",
    ),
    Row("issuer_*", "", "the token issuer misbehaves: check its configuration, its keys (JWKS) and its log"),
    Row("rucio_ping", "", "the Rucio server does not answer as it should: check its service and database"),
    Row("rucio_stuck_rules", "", "Rucio has stuck rules: check the conveyor, FTS and the judge-evaluator"),
    Row("downtime_feed", "", "the downtime feed cannot be read: check its URL and that this host reaches it"),
    # Reading through a cache (suites/cache).
    Row(
        "cache_*",
        "",
        "the origin {blame} is at fault, not the cache: probe it with `pytest suites/site --rse {blame}`",
        message="^the origin ",
    ),
    Row(
        "cache_*",
        "",
        "{rse} cannot fetch from its origin {origin}, which just took the file: check its `pss.origin`, its "
        "route to the origin (firewall), the credential it reads there with, and, after an outage of the "
        "origin, its client's error window (XRD_STREAMERRORWINDOW, 1800 s unless set)",
        message=r"did not serve the file from its origin (?P<origin>\S+):",
    ),
    Row(
        "cache_hit",
        "not_cached",
        "{rse} keeps nothing of what it reads: check its disk's free space (XCache passes reads through "
        "when it cannot store) and `pfc.diskusage`, and its log",
    ),
    Row(
        "cache_origin_down",
        "timeout",
        "{rse} keeps its readers waiting on an origin out of reach: XRootD's client tries a refused origin 5 "
        "times in 120 s windows; give it less (`pss.setopt ConnectTimeout`, `pss.setopt ConnectionRetry`)",
    ),
    Row(
        "cache_evict",
        "stale_copy",
        "{rse} took no eviction: XCache's remove command needs `pfc.allow_xrdpfc_command`, and the token of "
        "the inventory's `evict_client` must read its path (storage.read:/xrdpfc_command/remove_file)",
    ),
    Row(
        "cache_consistency",
        "stale_copy",
        "{rse} does not ask its origin again as declared: check its `revalidate_s` in the inventory against "
        "its configuration (XCache never asks again: declare none)",
    ),
    # X.509 proxies over https (suites/credentials).
    Row(
        "x509_chain",
        "auth_denied",
        "{rse} refuses the VO's proxy: check its vomsdir (the .lsc of the VO's VOMS hosts), that its https "
        "takes proxies with their VOMS attributes (XrdHttp: `http.secxtractor libXrdHttpVOMS.so`; dCache: "
        "gPlazma's voms plugin), and what it maps the VO's groups to",
    ),
    Row(
        "x509_*",
        "security",
        "{rse} lets in a proxy it must refuse: check it maps only the VO's groups to the probe area (an "
        "authdb's `g /<vo>` lines, gPlazma's vorolemap), not the DN (a grid-mapfile lets every proxy of it "
        "in), and that it checks validity and VOMS attributes",
    ),
    # Macaroons (suites/credentials).
    Row(
        "macaroon_issue",
        "protocol_error",
        "{rse} issues no macaroons: XRootD needs `http.exthandler xrdmacaroons libXrdMacaroons.so`, "
        "`macaroons.secretkey` and `all.sitename`; dCache, macaroons enabled on its WebDAV door",
    ),
    Row(
        "macaroon_read",
        "auth_denied",
        "{rse} does not honour the macaroon it issued: XRootD needs `ofs.authlib ++ libXrdMacaroons.so` "
        "after its other authorization libraries (asked first); before 5.6 a macaroon asked for with a token "
        "grants metadata only: mark the RSE `x509: true` to ask with the proxy",
    ),
    Row(
        "macaroon_caveats",
        "security",
        "{rse} does not hold a macaroon to its caveats: a leaked one does more than it was issued for. XRootD "
        "hands what a macaroon does not allow on to its other authorization, as its requester: grant that "
        "identity nothing by DN (grid-mapfile, authdb `u`)",
    ),
    Row(
        "davs_pull_macaroon",
        "auth_denied",
        "{source} refuses its own DOWNLOAD macaroon from the puller's agent, as FTS hands it over: it must take "
        "its macaroons as bearer tokens (XRootD: `ofs.authlib ++ libXrdMacaroons.so`)",
    ),
    Row(
        "davs_push_macaroon",
        "auth_denied",
        "{destination} refuses its own UPLOAD,DELETE macaroon from the pusher's agent, as FTS hands it over: it "
        "must take its macaroons as bearer tokens (XRootD: `ofs.authlib ++ libXrdMacaroons.so`)",
    ),
    # Something else than the storage broke.
    Row("*", "", "not the storage: {blame} broke; the services suite checks it", message="^token issuer "),
    Row("*", "unknown", "lakeprobe's own failure, not the site's: report it with the run's output"),
    # Reaching the door.
    Row(
        "connection*",
        "tls",
        "the host certificate of {host} expired on {when}: renew it and restart the door",
        message=r"expired on (?P<when>[\d-]+)",
    ),
    Row(
        "connection*",
        "",  # a warning, not a failure: it still works
        "the host certificate of {host} expires on {when}: renew it before then",
        message=r"expires in \d+ days \((?P<when>[\d-]+)\)",
    ),
    Row(
        "connection*",
        "tls",
        "the host certificate of {host} is not valid yet: check the server's clock",
        message="not valid yet",
    ),
    Row(
        "connection*",
        "tls",
        "the certificate of {host} does not name that host: reissue it with {host} in its subjectAltName",
        message="does not name host",
    ),
    Row(
        "connection*",
        "tls",
        "{netloc} offers no TLS: the lake's tokens would travel in clear; enable TLS on "
        "the door (XRootD: `xrd.tls` and `xrootd.tls capable all`)",
        message="plain HTTP, not TLS|offers no TLS",
    ),
    Row(
        "connection*",
        "tls",
        "{host}'s certificate chain is not trusted by the lake's CAs: serve the full "
        "chain, or check it with `openssl s_client -connect {netloc}`",
    ),
    Row(
        "connection_ipv6",
        "unreachable",
        "{host} is not reachable over IPv6: check the door listens on IPv6 and the ip6tables rules open port {port}",
    ),
    Row(
        "connection_ipv4",
        "unreachable",
        "{host} is not reachable over IPv4: check the door listens on IPv4 and the firewall opens port {port}",
    ),
    Row(
        "connection*",
        "unreachable",
        "nothing answers at {netloc}: start the door's service and open port {port} in the firewall",
    ),
    Row(
        "connection*",
        "timeout",
        "{netloc} accepts connections but does not answer: the door is hung or "
        "overloaded; look at its log and restart it",
    ),
    # Writing, reading and deleting.
    Row(
        "*",
        "permission",
        "{rse} is exported read-only: drop `r/o` from its `all.export` line and restart it",
        implementation="xrootd",
        message="read.?only",
    ),
    Row(
        "*",
        "permission",
        "{rse} refuses the probe's writes under {prefix}: export it writable and let the "
        "lake's issuer create there (XRootD: `all.export` without `r/o`, scitokens.cfg base_path)",
        implementation="xrootd",
    ),
    Row(
        "*",
        "permission",
        "{rse} refuses the probe's writes under {prefix}: map the lake's issuer and "
        "grant it the area (dCache: gPlazma's scitoken mapping and the directory's owner)",
        implementation="dcache",
    ),
    Row(
        "*",
        "permission",
        "{rse} refuses the probe's writes under {prefix}: check the area is writable and "
        "that tokens of the lake's issuer are mapped to a user who may write there",
    ),
    Row(
        "*",
        "no_space",
        "{rse} has no space left under {prefix}: free space, add a disk or pool, or raise the area's quota",
    ),
    Row(
        "upload",
        "protocol_error",
        "{rse} dropped the upload without a reason: look at the door's log at "
        "that time (XrdHttp closes the connection on a failed write, e.g. a full disk)",
        implementation="xrootd",
    ),
    Row(
        "*",
        "checksum_mismatch",
        "the bytes {rse} stored differ from those sent: a disk, file system or data "
        "server corrupts data; check its hardware and its checksum (adler32) computation",
    ),
    Row(
        "*",
        "checksum_unsupported",
        "{rse} computes no checksum the lake uses: enable adler32 (XRootD: "
        "`xrootd.chksum adler32`; dCache: the pools' checksum policy)",
    ),
    Row(
        "*",
        "content_mismatch",
        "what {rse} gives back differs from what it stored: check its data servers and any cache in front of them",
    ),
    Row(
        "*",
        "not_found",
        "{rse} does not find a file it just took: in a cluster, check that the manager "
        "locates files on every data server (XRootD: `cms` logs); else a stale cache",
    ),
    Row(
        "*",
        "not_deleted",
        "{rse} keeps a file Rucio should have deleted: check the reaper runs for this RSE and may delete there",
    ),
    Row("*", "stuck", "the rule was not met in time: check the conveyor (FTS) and the judge for this RSE"),
    Row(
        "throughput",
        "slow",
        "transfers with {rse} are below the floor: look at the network path "
        "(perfSONAR), the door's throttles and the disks' load",
    ),
    # Third-party copies.
    Row(
        "davs_pull|davs_push",
        "protocol_error",
        "HTTP-TPC refused: {rse} has no HTTP-TPC handler (XRootD: "
        "`http.exthandler xrdtpc libXrdHttpTPC.so` and `ofs.tpc`)",
        implementation="xrootd",
    ),
    Row(
        "davs_pull|davs_push",
        "protocol_error",
        "HTTP-TPC refused by {rse}'s WebDAV door: check its "
        "third-party copy is enabled and its log for the COPY request",
    ),
    Row(
        "root_tpc",
        "protocol_error",
        "root:// TPC refused: both ends need `ofs.tpc` (with `fcreds ?ztn` to "
        "hand on tokens) and the destination its `pgm` agent",
        implementation="xrootd",
    ),
    Row("root_tpc", "protocol_error", "root:// TPC refused: check both ends enable third-party copy"),
    Row(
        "root_tpc",
        "auth_denied",
        "the source refused the destination's TPC agent: the destination must "
        "enforce tokens to hand one on (XRootD: `ofs.authorize 1`, `ofs.tpc fcreds ?ztn`)",
    ),
    Row(
        "|".join(COPIES),
        "unreachable",
        "{source} and {destination} cannot reach each other for the copy: open the firewall between the "
        "sites for server-to-server connections on the doors' ports",
    ),
    Row(
        "|".join(COPIES),
        "",
        "a copy between {source} and {destination} failed: the other copies of each end say which one to look at",
    ),
    # Token authorization (WLCG JWT profile).
    Row(
        "no_token",
        "security",
        "{rse} lets anonymous requests through: enforce authorization (XRootD: "
        "`ofs.authorize 1` and the SciTokens library in `ofs.authlib`)",
    ),
    Row(
        "expired_token", "security", "{rse} accepts expired tokens: check its clock and its token library's `exp` check"
    ),
    Row(
        "wrong_audience|several_audiences",
        "security",
        "{rse} accepts tokens meant for other audiences: set its own audience (XRootD: scitokens.cfg `audience`)",
    ),
    Row(
        "unknown_issuer",
        "security",
        "{rse} accepts tokens from an issuer it must not trust: list only the lake's issuers",
    ),
    Row(
        "path_scope_boundary|create_scope_boundary",
        "security",
        "{rse} matches scope paths as plain prefixes (/a reaches /ab): "
        "upgrade its SciTokens library; XRootD 5.5.3's own matching does this",
    ),
    Row(
        "path_scope_from_root",
        "security",
        "{rse} reads scope paths from more than one base: give the issuer one `base_path`",
    ),
    Row(
        "several_audiences",
        "auth_denied",
        "{rse} refuses a token whose `aud` is a list, which the WLCG profile allows: upgrade its token library",
    ),
    Row(
        "path_scope_trailing_slash",
        "auth_denied",
        "{rse} keeps a scope path's trailing slash when matching: a library bug; upgrade it",
    ),
    Row(
        "group_access",
        "auth_denied",
        "{rse} grants nothing to the token's groups (wlcg.groups): map the group to its area in the authdb",
        implementation="xrootd",
    ),
    Row(
        "group_access",
        "auth_denied",
        "{rse} grants nothing to the token's groups (wlcg.groups): map the group to its area",
    ),
    Row(
        TOKEN_CHECKS,
        "security",
        "{rse} allows what the token's scopes do not: a fallback grants it; let "
        "scopes alone decide (XRootD scitokens.cfg `onmissing = deny`, or an authdb without it)",
        implementation="xrootd",
    ),
    Row(
        TOKEN_CHECKS,
        "security",
        "{rse} allows what the token's scopes do not: check no fallback mapping or ACL grants the request",
    ),
    Row(
        TOKEN_CHECKS,
        "auth_denied",
        "{rse} refuses what the token's scopes allow: check it trusts the lake's "
        "issuer and maps its scope paths from the right base",
    ),
    # A door that answers stat and reads but not checksums: its checksum service is stuck or swamped.
    Row(
        "*",
        "timeout",
        "{rse} did not answer a checksum request in time: its checksum queue is full or stuck (XRootD runs "
        "`xrootd.chksum max` jobs at once, 4 unless set; 5.5 can stay stuck once clients of queued "
        "checksums leave): raise `max` and restart it",
        implementation="xrootd",
        message="^checksum on ",
    ),
    Row(
        "*",
        "timeout",
        "{rse} did not answer a checksum request in time: its checksum service is stuck or swamped "
        "(very large files, too few checksum workers); look at its log",
        message="^checksum on ",
    ),
    # Whatever else: by class.
    Row(
        "*",
        "timeout",
        "{rse} did not answer within the deadline: a hung door or data server, or an overloaded pool; look at its log",
    ),
    Row("*", "unreachable", "{rse} cannot be reached at {netloc}: check the service is running and reachable"),
    Row("*", "tls", "TLS with {netloc} failed: check its certificate and chain"),
    Row("*", "auth_denied", "{rse} refuses the probe's token: check it trusts the lake's issuer and audience"),
    Row("*", "security", "{rse} let through what it must refuse: check its authorization configuration"),
    Row("*", "slow", "{rse} is slow: look at the network path and its load"),
    Row("*", "", "{rse}: see the message; the check's section of the README says what it probes"),
)


def hint_for(record: Record, implementation: str = "", endpoint: str = "", prefix: str = "") -> str:
    """The remedy for a finding ("" for anything else), at the acting end's endpoint and prefix."""
    if not record.is_finding:
        return ""
    parts = urlsplit(endpoint)
    names = {
        "rse": acting_end(record),  # whose endpoint, prefix and implementation the hint is about
        "source": record.rse,
        "destination": record.peer,
        "blame": record.blame or "a service",
        "host": parts.hostname or record.rse,
        "netloc": parts.netloc or record.rse,
        "port": str(parts.port or _DEFAULT_PORTS.get(parts.scheme, "")),
        "prefix": prefix or "the probe's prefix",
    }
    for row in HINTS:
        match = row.matches(record, implementation)
        if match:
            return inert(row.text.format(**names, **match.groupdict()), HINT_CHARS)
    return ""


def acting_end(record: Record) -> str:
    """Whose server did the work the finding is about: a copy's destination (it pulls, its agent fetches),
    the source when it pushes or is the end that refused; else the RSE."""
    if not record.peer:
        return record.rse
    said = record.message.lower()
    if record.mode.split("_")[0] == "push" or "(source)" in said or "source refused" in said:
        return record.rse
    return record.peer


def implementation(said: str) -> str:
    """What a server says it is, made safe to keep: one line, bounded."""
    return inert(said.strip(), IMPLEMENTATION_CHARS) if said else ""
