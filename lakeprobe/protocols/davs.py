"""WebDAV over TLS (davs://, as gfal2, FTS and Rucio name it): data and namespace operations and HTTP
third-party copy through gfal2 (what the lake's own transfer tools use), the checksum and the single-token
requests as plain HTTP (lakeprobe/protocols/https.py: redirects within https only).

gfal2 contexts are pooled (making one loads every plugin) and each carries, for the one call it serves, the
bearer token of that call for the URLs it touches.
"""

import queue
import stat as stat_module
from collections.abc import Callable
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

from lakeprobe import checksums
from lakeprobe.checksums import Checksum
from lakeprobe.classify import classify
from lakeprobe.errors import ErrorClass as E
from lakeprobe.errors import ProbeFailure
from lakeprobe.protocols import https, tls
from lakeprobe.protocols.base import Entry, Outcome, Protocol, Reached

_REFUSED = (401, 403)
READ_BYTES = 2**20  # more than any file the token checks write


class Davs(Protocol):
    scheme = "davs"
    # the destination fetches / the source sends; never streamed by us
    copy_modes = {"pull": "davs_pull", "push": "davs_push"}

    def __init__(self):
        self._contexts: queue.SimpleQueue = queue.SimpleQueue()

    # -- plumbing ------------------------------------------------------------------------------------
    def _gfal(
        self, what: str, url: str, token: str | None, timeout_s: float, fn: Callable, *more_urls: str, source_token=None
    ):
        import gfal2

        try:
            ctx = self._contexts.get_nowait()
        except queue.Empty:
            gfal2.set_verbose(gfal2.verbose_level.warning)
            ctx = gfal2.creat_context()
        seconds = max(1, int(timeout_s))
        for group in ("CORE", "HTTP PLUGIN"):
            for option in ("NAMESPACE_TIMEOUT", "OPERATION_TIMEOUT", "CHECKSUM_TIMEOUT"):
                try:
                    ctx.set_opt_integer(group, option, seconds)
                except gfal2.GError:
                    pass  # not every plugin knows every timeout
        for each in more_urls:  # a copy's source, whose token gfal2 hands the destination (pull) or uses (push)
            ctx.cred_set(_endpoint(each), ctx.cred_new("BEARER", source_token or token or ""))
        ctx.cred_set(_endpoint(url), ctx.cred_new("BEARER", token or ""))
        try:
            return fn(ctx, seconds)
        except gfal2.GError as e:
            raise ProbeFailure(classify(e.message, e.code), f"{what}: {e.message.strip()}") from None
        finally:  # back to the pool when the call is over, which for an abandoned call may be never
            self._contexts.put(ctx)

    def check_base(self, url: str):
        super().check_base(url)
        if ":" in (urlsplit(url).hostname or ""):
            # davix (neon) verifies the certificate against "[::1]" with its brackets: every gfal2 call
            # fails "certificate issued for a different hostname" whatever the certificate names.
            raise ValueError(
                f"{url!r}: the davs client (gfal2, davix) cannot verify a certificate for an IPv6 literal; "
                "name the host (a DNS name with an AAAA record)"
            )

    # -- reachability --------------------------------------------------------------------------------
    def connect(self, base: str, token: str | None, timeout_s: float) -> Reached:
        """The TLS handshake, then one request through the door as ours are sent: a door that redirects to
        plain http:// is found here, before gfal2 (which follows such a redirect with the token) is used."""
        parts = urlsplit(base)
        certificate = tls.handshake(parts.hostname or "", parts.port or 443, timeout_s)
        door = https.request("HEAD", base, token, timeout_s)
        said = door.headers.get("Server", "")
        return Reached(certificate.warning() if certificate else "", door.via.strip(" ()"), said)

    def reach_address(self, base: str, address: str, timeout_s: float) -> Reached:
        parts = urlsplit(base)
        certificate = tls.handshake(parts.hostname or "", parts.port or 443, timeout_s, address=address)
        return Reached(certificate.warning() if certificate else "")

    # -- namespace and data --------------------------------------------------------------------------
    def mkdir(self, url, token, timeout_s):
        import gfal2

        def mkdir(ctx, _):
            try:
                ctx.mkdir_rec(url, 0o755)
            except gfal2.GError as e:
                if "exist" in e.message.lower():
                    return
                self._explain(e, "MKCOL", url, token, timeout_s)
                raise

        self._gfal("mkdir", url, token, timeout_s, mkdir)

    def _explain(self, error, method: str, url: str, token: str | None, timeout_s: float):
        """gfal2 reports some refusals as a bare HTTP status; the server's reason is in the response body.
        For such a failure one plain request of the same kind is sent to read it."""
        if classify(error.message, error.code) != E.UNKNOWN:
            return
        try:
            reply = https.request(method, url, token, timeout_s)
            reason = f"HTTP {reply.status_code}: {reply.text.strip()[:200]}"
        except ProbeFailure as e:
            reason = str(e)
        raise ProbeFailure(classify(reason), f"{method.lower()}: {error.message.strip()}; server says {reason}")

    def put(self, local, url, token, timeout_s):
        def put(ctx, seconds):
            params = ctx.transfer_parameters()
            params.overwrite, params.timeout = True, seconds
            ctx.filecopy(params, f"file://{local}", url)

        self._gfal("upload", url, token, timeout_s, put)

    def get(self, url, local, token, timeout_s):
        def get(ctx, seconds):
            params = ctx.transfer_parameters()
            params.overwrite, params.timeout = True, seconds
            ctx.filecopy(params, url, f"file://{local}")

        self._gfal("download", url, token, timeout_s, get)

    def stat(self, url, token, timeout_s) -> Entry:
        def stat(ctx, _):
            found = ctx.stat(url)
            return Entry(found.st_size, stat_module.S_ISDIR(found.st_mode))

        return self._gfal("stat", url, token, timeout_s, stat)

    def listdir(self, url, token, timeout_s) -> list[str]:
        return self._gfal("list", url, token, timeout_s, lambda ctx, _: ctx.listdir(url))

    def delete(self, url, token, timeout_s):
        self._gfal("delete", url, token, timeout_s, lambda ctx, _: ctx.unlink(url))

    def rmdir(self, url, token, timeout_s):
        self._gfal("rmdir", url, token, timeout_s, lambda ctx, _: ctx.rmdir(url))

    def checksum(self, url, token, timeout_s) -> Checksum:
        """RFC 3230: ask for adler32 (and say which others we take); the server answers in what it has."""
        reply = https.request("HEAD", url, token, timeout_s, headers={"Want-Digest": checksums.WANT_DIGEST})
        if reply.status_code >= 300:
            reason = f"HTTP {reply.status_code} {reply.reason}"
            raise ProbeFailure(classify(reason), f"checksum: HEAD {url}{reply.via}: {reason}")
        found = checksums.from_digest_header(reply.headers.get("Digest", ""))
        if found is None:
            raise ProbeFailure(
                E.CHECKSUM_UNSUPPORTED,
                "checksum: the server answers Want-Digest with no digest "
                f"lakeprobe knows ({reply.headers.get('Digest') or 'no Digest header'})",
            )
        return found

    def copy(self, source, destination, mode, token, timeout_s, source_token):
        def copy(ctx, seconds):
            ctx.set_opt_boolean("HTTP PLUGIN", "ENABLE_FALLBACK_TPC_COPY", False)
            ctx.set_opt_string("HTTP PLUGIN", "DEFAULT_COPY_MODE", f"3rd {mode}")
            params = ctx.transfer_parameters()
            params.overwrite, params.timeout = True, seconds
            ctx.filecopy(params, source, destination)

        self._gfal(f"davs TPC {mode}", destination, token, timeout_s, copy, source, source_token=source_token)

    # -- one request, one explicit token -------------------------------------------------------------
    def _allowed(self, method: str, url: str, token: str | None, timeout_s: float, **kwargs) -> Outcome:
        """Judged on the answer of the server that finally answers, a door's redirects followed."""
        reply = https.request(method, url, token, timeout_s, **kwargs)
        if reply.status_code in _REFUSED:
            return Outcome(False, via=reply.via)
        if reply.status_code >= 300:
            reason = f"HTTP {reply.status_code} {reply.text.strip()[:120]}"
            raise ProbeFailure(classify(reason), f"{method} {url}{reply.via}: {reason}")
        return Outcome(True, reply.content, reply.via)

    def read_as(self, url, token, timeout_s):
        return self._allowed("GET", url, token, timeout_s, limit=READ_BYTES)

    def write_as(self, url, token, data, timeout_s, overwrite=False):
        # HTTP has no "create only": a create-scoped token's overwrite is refused by the storage, not by us.
        return self._allowed("PUT", url, token, timeout_s, data=data)

    def delete_as(self, url, token, timeout_s):
        return self._allowed("DELETE", url, token, timeout_s)

    def mkdir_as(self, url, token, timeout_s):
        return self._allowed("MKCOL", url, token, timeout_s)

    def list_as(self, url, token, timeout_s):
        done = self._allowed(
            "PROPFIND", url.rstrip("/") + "/", token, timeout_s, headers={"Depth": "1"}, limit=READ_BYTES
        )
        if not done:
            return done
        names = [unquote(href.rstrip("/").rsplit("/", 1)[-1]) for href in _hrefs(done.value)][1:]
        return Outcome(True, names, done.via)

    def move_as(self, url, to_url, token, timeout_s):
        destination = "https://" + to_url.split("://", 1)[1]
        return self._allowed("MOVE", url, token, timeout_s, headers={"Destination": destination})


def _endpoint(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def _hrefs(multistatus: bytes) -> list[str]:
    """The hrefs of a WebDAV multistatus, in order. The storage is untrusted: expat (>= 2.4.1, as every
    supported Python links) refuses entity expansion bombs, and the answer was read to a bound."""
    try:
        root = ElementTree.fromstring(multistatus)
    except ElementTree.ParseError as e:
        raise ProbeFailure(E.PROTOCOL_ERROR, f"PROPFIND: the answer is not WebDAV XML ({e})") from None
    return [(h.text or "").strip() for h in root.iter("{DAV:}href")]
