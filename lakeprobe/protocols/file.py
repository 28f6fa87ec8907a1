"""file:// — a POSIX file system as an RSE, as some lakes keep for scratch space (a shared or local disk
mounted on the probing machine): the chain runs on it; it has no third-party copy and no token
authorization (its access is the file system's), so the copy and token checks skip for it.

URLs are file:///absolute/path (no host): the RSE's base is file:/// or file:///mount/point.
"""

import os
import posixpath
import shutil
from urllib.parse import unquote, urlsplit

from lakeprobe import checksums
from lakeprobe.checksums import Checksum
from lakeprobe.classify import classify
from lakeprobe.errors import ProbeFailure
from lakeprobe.protocols.base import Entry, Protocol, Reached


def _path(url: str) -> str:
    return unquote(urlsplit(url).path) or "/"


def _posix(what: str, fn, *args):
    try:
        return fn(*args)
    except OSError as e:
        raise ProbeFailure(
            classify(e.strerror or str(e), e.errno), f"{what}: {e.strerror or e} ({e.filename})"
        ) from None


class File(Protocol):
    scheme = "file"
    takes_tokens = False
    on_network = False

    def check_base(self, url: str):
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme != "file" or parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"{url!r} is not a file:///absolute/path URL")

    def join(self, base: str, path: str) -> str:
        return "file://" + posixpath.join(_path(base), path.lstrip("/"))

    def connect(self, base, token, timeout_s) -> Reached:
        root = _path(base)
        if not os.path.isdir(root):
            raise ProbeFailure("not_found", f"{root} is not a directory on this machine (is it mounted?)")
        return Reached()

    def mkdir(self, url, token, timeout_s):
        _posix("mkdir", os.makedirs, _path(url), 0o755, True)

    def put(self, local, url, token, timeout_s):
        _posix("upload", shutil.copyfile, local, _path(url))

    def get(self, url, local, token, timeout_s):
        _posix("download", shutil.copyfile, _path(url), local)

    def stat(self, url, token, timeout_s) -> Entry:
        found = _posix("stat", os.stat, _path(url))
        return Entry(found.st_size, os.path.isdir(_path(url)))

    def listdir(self, url, token, timeout_s) -> list[str]:
        return _posix("list", os.listdir, _path(url))

    def delete(self, url, token, timeout_s):
        _posix("delete", os.unlink, _path(url))

    def rmdir(self, url, token, timeout_s):
        _posix("rmdir", os.rmdir, _path(url))

    def checksum(self, url, token, timeout_s) -> Checksum:
        # A file system computes no checksum: this is the file's adler32 as read back, which still proves
        # that the bytes stored are the bytes written.
        return _posix("checksum", checksums.of_file, _path(url))
