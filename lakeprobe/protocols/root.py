"""XRootD (root://): data and namespace operations in-process through XrdCl's Python bindings, third-party
copy driven step by step, and the single-token requests as one xrdfs/xrdcp process each.

Tokens. XrdCl authenticates once per connection (ztn) with the token it finds in the environment at login;
it has no per-request token. So, in-process, every call's token is written to a private token file named by
BEARER_TOKEN_FILE (set once per process, before any thread starts), and the connection is named after the
token (a user name derived from it, `lp<hash>@host`): a new token value logs in on a connection of its own,
reading the file that now holds it. That serves one token holder per process (the probe's client for one
audience, whose token is renewed in the background); a call with another holder's token, or with none,
runs as a separate xrdfs/xrdcp process whose environment holds exactly that token (none:
XrdSecPROTOCOL=unix, so that no token file lying around makes an anonymous request less anonymous).

Third-party copy. XrdCl's CopyProcess polls a running TPC every 2.5 s (XrdClThirdPartyCopyJob), so every
root:// copy took at least 2.5 s whatever its size. The copy is driven here the way that job does it (the
destination opened with the TPC rendezvous key, the source opened with it, the destination's sync starts
the copy and returns when it is done) without the polling sleep.
"""

import functools
import hashlib
import os
import re
import secrets
import tempfile
import threading
import time
from urllib.parse import quote, urlsplit

from lakeprobe import checksums, deadline
from lakeprobe.checksums import Checksum
from lakeprobe.classify import classify
from lakeprobe.errors import ErrorClass as E
from lakeprobe.errors import NotProbed, ProbeFailure, scrub
from lakeprobe.jwts import claims
from lakeprobe.protocols import tls, xrdcli
from lakeprobe.protocols.base import Entry, Moved, Outcome, Protocol, Reached

# XrdCl reads these once, when the library is loaded. Its defaults retry a refused connection for minutes,
# so a stopped endpoint would look like a hanging one: one attempt tells "refused" from "silent" at once.
for _name, _value in (("XRD_CONNECTIONRETRY", "1"), ("XRD_CONNECTIONWINDOW", "15"), ("XRD_REQUESTTIMEOUT", "60")):
    os.environ.setdefault(_name, _value)

_CHUNK = 8 << 20
# XrdCl's ztn sends no token over a clear connection, so such an endpoint refuses every request; and a token
# in clear (a login, or CGI authz=) could be read on the way: lakeprobe sends it nothing and says why.
_NO_TLS = (
    "{where} offers no TLS on root://, so lakeprobe sends it no token: tokens over root:// need TLS "
    "(roots://, or a server with `xrd.tls` and `xrootd.tls capable all`)"
)


def _remove(path: str):
    if os.path.exists(path):
        os.unlink(path)


class _Login:
    """The token file in-process XrdCl connections log in with, and whose token they may carry."""

    def __init__(self):
        self.lock, self.path, self.holder, self.current = threading.Lock(), "", "", ""

    def prepare(self):
        with self.lock:
            if self.path:
                return
            fd, self.path = tempfile.mkstemp(prefix="lakeprobe-ztn-")  # mode 600
            os.close(fd)
            deadline.at_exit(functools.partial(_remove, self.path))
            for name in xrdcli.TOKEN_VARS:
                os.environ.pop(name, None)
            os.environ["BEARER_TOKEN_FILE"] = self.path

    def user(self, token: str | None) -> str | None:
        """The connection user name for `token` in this process, or None: not in-process."""
        if not token:
            return None
        self.prepare()
        holder = _holder(token)
        with self.lock:
            self.holder = self.holder or holder
            if holder != self.holder:
                return None
            if token != self.current:
                partial = f"{self.path}.{threading.get_ident()}"
                with open(os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600), "w") as f:
                    f.write(token)
                os.replace(partial, self.path)
                self.current = token
        return "lp" + hashlib.sha256(token.encode()).hexdigest()[:12]


def _holder(token: str) -> str:
    """Who holds the token, and for which audience: one RSE's own audience is not another's."""
    try:
        found = claims(token)
    except ValueError:
        return token  # not a JWT: the token itself is its holder
    return f"{found.get('sub') or token}|{found.get('aud')}"


class Root(Protocol):
    scheme = "root"
    copy_modes = {"tpc": "root_tpc"}
    logs_in_with_token = True  # ztn: the login itself carries the token
    sees_whole_cluster = True  # a listing locates first and merges every data server's, see listdir

    def __init__(self):
        self._login = _Login()

    def join(self, base: str, path: str) -> str:
        # root:// wants the absolute path after the host's slash: root://host:port//path
        return base.rstrip("/") + "//" + path.lstrip("/")

    def prepare_process(self):
        self._login.prepare()

    def hold(self, token: str):
        """Keeps the process's token file (BEARER_TOKEN_FILE) at `token`: other clients in this process that
        find their token the WLCG way (Rucio's, which makes clients of its own) then find the current one."""
        self._login.user(token)

    # -- plumbing ------------------------------------------------------------------------------------
    def _server(self, url: str, token: str | None) -> str | None:
        """root://lp<hash>@host:port for an in-process call with `token`; None: run it as a process."""
        user = self._login.user(token)
        return f"root://{user}@{urlsplit(url).netloc}" if user else None

    @staticmethod
    def _check(status, what: str):
        if not status.ok:
            message = scrub(status.message.strip())
            raise ProbeFailure(classify(message, status.errno), f"{what}: {message}")

    def _fs(self, url: str, token: str | None):
        from XRootD import client

        server = self._server(url, token)
        return client.FileSystem(server) if server else None

    # -- reachability --------------------------------------------------------------------------------
    def connect(self, base, token, timeout_s) -> Reached:
        parts = urlsplit(base)
        certificate = tls.handshake_any(parts.hostname or "", parts.port or 1094, timeout_s, tls.xrootd_starttls)
        if certificate is None:
            raise ProbeFailure(E.TLS, _NO_TLS.format(where=parts.netloc))
        fs = self._fs(base, token)
        if fs is None:  # a login too (xrdfs has no ping)
            said = xrdcli.xrdfs(base, token, timeout_s, "query", "config", "version")
        else:
            from XRootD.client.flags import QueryCode

            status, _ = fs.ping(timeout=_seconds(timeout_s))
            self._check(status, f"login at {parts.netloc}")
            status, answer = fs.query(QueryCode.CONFIG, "version", timeout=_seconds(timeout_s))
            said = (answer or b"").decode(errors="replace") if status.ok else ""
        return Reached(certificate.warning(), implementation=_implementation(said))

    def reach_address(self, base: str, address: str, timeout_s: float) -> Reached:
        """The handshake up to TLS at that address (XrdCl picks addresses itself: no login here)."""
        parts = urlsplit(base)
        certificate = tls.handshake(parts.hostname or "", parts.port or 1094, timeout_s, tls.xrootd_starttls, address)
        if certificate is None:  # the lake's tokens would go in clear: refused as connect() does
            raise ProbeFailure(E.TLS, _NO_TLS.format(where=f"{parts.netloc} at {address}"))
        return Reached(certificate.warning())

    # -- namespace and data --------------------------------------------------------------------------
    def mkdir(self, url, token, timeout_s):
        from XRootD.client.flags import MkDirFlags

        fs = self._fs(url, token)
        if fs is None:
            return xrdcli.mkdir(url, token, timeout_s)
        status, _ = fs.mkdir(xrdcli.path(url), MkDirFlags.MAKEPATH, timeout=_seconds(timeout_s))
        if not status.ok and "exist" not in status.message.lower():
            self._check(status, "mkdir")

    def put(self, local, url, token, timeout_s):
        from XRootD import client
        from XRootD.client.flags import AccessMode, OpenFlags

        server = self._server(url, token)
        if server is None:
            return xrdcli.put(local, url, token, timeout_s)
        f = client.File()
        mode = AccessMode.UR | AccessMode.UW | AccessMode.GR | AccessMode.OR
        status, _ = f.open(f"{server}/{quote(xrdcli.path(url))}", OpenFlags.DELETE, mode, timeout=_seconds(timeout_s))
        self._check(status, "upload: open")
        moving = time.monotonic()
        try:
            offset = 0
            with open(local, "rb") as source:
                while chunk := source.read(_CHUNK):
                    status, _ = f.write(chunk, offset, timeout=_seconds(timeout_s))
                    self._check(status, "upload: write")
                    offset += len(chunk)
        finally:
            status, _ = f.close(timeout=_seconds(timeout_s))
        self._check(status, "upload: close")
        return Moved(time.monotonic() - moving)

    def get(self, url, local, token, timeout_s):
        from XRootD import client
        from XRootD.client.flags import OpenFlags

        server = self._server(url, token)
        if server is None:
            return xrdcli.get(url, local, token, timeout_s)
        f = client.File()
        status, _ = f.open(f"{server}/{quote(xrdcli.path(url))}", OpenFlags.READ, timeout=_seconds(timeout_s))
        self._check(status, "download: open")
        moving = time.monotonic()
        try:
            offset = 0
            with open(local, "wb") as target:
                while True:
                    status, chunk = f.read(offset, _CHUNK, timeout=_seconds(timeout_s))
                    self._check(status, "download: read")
                    if not chunk:
                        break
                    target.write(chunk)
                    offset += len(chunk)
        finally:
            f.close(timeout=_seconds(timeout_s))
        return Moved(time.monotonic() - moving)

    def stat(self, url, token, timeout_s) -> Entry:
        from XRootD.client.flags import StatInfoFlags

        fs = self._fs(url, token)
        if fs is None:
            return xrdcli.stat(url, token, timeout_s)
        status, info = fs.stat(xrdcli.path(url), timeout=_seconds(timeout_s))
        self._check(status, "stat")
        return Entry(info.size, bool(info.flags & StatInfoFlags.IS_DIR))

    def listdir(self, url, token, timeout_s) -> list[str]:
        """Through an XRootD cluster's manager as `xrdfs ls` lists: every data server that has the directory
        is asked (a locate first), and their entries merged; each data server has a namespace of its own."""
        from XRootD.client.flags import DirListFlags

        fs = self._fs(url, token)
        if fs is None:
            return xrdcli.listdir(url, token, timeout_s)
        status, listing = fs.dirlist(
            xrdcli.path(url), DirListFlags.LOCATE | DirListFlags.MERGE, timeout=_seconds(timeout_s)
        )
        if not status.ok:  # a locate names servers by the address they registered with, which a call forced
            # to the other address family cannot reach: a single server lists as well without it
            status, listing = fs.dirlist(xrdcli.path(url), timeout=_seconds(timeout_s))
        self._check(status, "list")
        return [entry.name for entry in listing]

    def delete(self, url, token, timeout_s):
        fs = self._fs(url, token)
        if fs is None:
            return xrdcli.delete(url, token, timeout_s)
        status, _ = fs.rm(xrdcli.path(url), timeout=_seconds(timeout_s))
        self._check(status, "delete")

    def rmdir(self, url, token, timeout_s):
        fs = self._fs(url, token)
        if fs is None:
            return xrdcli.rmdir(url, token, timeout_s)
        status, _ = fs.rmdir(xrdcli.path(url), timeout=_seconds(timeout_s))
        self._check(status, "rmdir")

    def refresh(self, url, token, timeout_s) -> bool:
        """A locate with refresh, as `xrdfs locate -r`: a cluster's manager caches where a file is, and that
        no data server has it (cms.fxhold), past a change a data server made on its own."""
        from XRootD.client.flags import OpenFlags

        fs = self._fs(url, token)
        if fs is None:
            return xrdcli.refresh(url, token, timeout_s)
        status, _ = fs.locate(xrdcli.path(url), OpenFlags.REFRESH, timeout=_seconds(timeout_s))
        self._check(status, "locate")
        return True

    def checksum(self, url, token, timeout_s) -> Checksum:
        from XRootD.client.flags import QueryCode

        fs = self._fs(url, token)
        if fs is None:
            return xrdcli.checksum(url, token, timeout_s)
        status, answer = fs.query(
            QueryCode.CHECKSUM, f"{xrdcli.path(url)}?cks.type={checksums.PREFERRED}", timeout=_seconds(timeout_s)
        )
        self._check(status, "checksum")
        algorithm, _, value = (answer or b"").decode(errors="replace").strip("\x00 \n").partition(" ")
        if not value:
            raise ProbeFailure(E.PROTOCOL_ERROR, f"checksum: unexpected answer {answer!r}")
        return checksums.normalise(algorithm, value)

    def copy(self, source, destination, mode, token, timeout_s, source_token):
        from XRootD import client
        from XRootD.client.flags import AccessMode, OpenFlags

        if source_token:
            # The destination pulls with the token the client logged in with; another for the source would
            # have to go in the source URL (argv, logs): lakeprobe puts no token in a URL.
            raise NotProbed(
                "not tried: root:// TPC between RSEs that take tokens for their own audiences needs the "
                "source's token in the source URL, which lakeprobe never does"
            )
        src_server, dst_server = self._server(source, token), self._server(destination, token)
        if src_server is None or dst_server is None:
            return xrdcli.copy(source, destination, token, timeout_s)
        seconds, src_path, dst_path = _seconds(timeout_s), xrdcli.path(source), xrdcli.path(destination)
        size = self.stat(source, token, timeout_s).size
        key = secrets.token_hex(12)
        cgi = (
            f"tpc.key={key}&tpc.src={urlsplit(source).netloc}&tpc.lfn={quote(src_path)}&tpc.spr=root"
            f"&tpc.tpr=root&tpc.dlgon=0&oss.asize={size}&tpc.stage=copy"
        )
        target, origin = client.File(), client.File()
        mode_bits = AccessMode.UR | AccessMode.UW | AccessMode.GR | AccessMode.OR
        status, _ = target.open(
            f"{dst_server}/{quote(dst_path)}?{cgi}", OpenFlags.UPDATE | OpenFlags.DELETE, mode_bits, timeout=seconds
        )
        self._check(status, "root TPC: the destination refused the copy")
        try:
            status, _ = target.sync(timeout=seconds)  # the rendezvous
            self._check(status, "root TPC: destination rendezvous")
            status, _ = origin.open(
                f"{src_server}/{quote(src_path)}?tpc.key={key}&tpc.dst={urlsplit(destination).hostname}&tpc.stage=copy",
                OpenFlags.READ,
                timeout=seconds,
            )
            self._check(status, "root TPC: the source refused the copy")
            moving = time.monotonic()
            status, _ = target.sync(timeout=seconds)  # the copy: returns when the destination has it all
            self._check(status, "root TPC: transfer")
            moved = Moved(time.monotonic() - moving)
        finally:
            target.close(timeout=seconds)
            if origin.is_open():
                origin.close(timeout=seconds)
        return moved

    # -- one request, one explicit token -------------------------------------------------------------
    # (xrdcp and xrdfs follow a manager's redirect without saying where to: no `via` over root://)
    def read_as(self, url, token, timeout_s):
        return Outcome.of(xrdcli.read_as(url, token, timeout_s))

    def write_as(self, url, token, data, timeout_s, overwrite=False):
        return Outcome.of(xrdcli.write_as(url, token, data, timeout_s, overwrite))

    def delete_as(self, url, token, timeout_s):
        return Outcome.of(xrdcli.delete_as(url, token, timeout_s))

    def mkdir_as(self, url, token, timeout_s):
        return Outcome.of(xrdcli.mkdir_as(url, token, timeout_s))

    def list_as(self, url, token, timeout_s):
        return Outcome.of(xrdcli.list_as(url, token, timeout_s))

    def move_as(self, url, to_url, token, timeout_s):
        return Outcome.of(xrdcli.move_as(url, to_url, token, timeout_s))


def _seconds(timeout_s: float) -> int:
    return max(1, int(timeout_s))


def _implementation(version: str) -> str:
    """XRootD answers `query config version` with its release (`v5.5.3`); a server that does not know the
    name echoes it back."""
    version = version.strip("\x00 \n")
    return f"XRootD {version}" if re.fullmatch(r"v\d+(\.\d+)*\S*", version) else ""
