"""Checksums as storage systems offer them, computed on our side for any algorithm a storage answers in.

Storage computes one or a few algorithms (XRootD `xrootd.chksum`, dCache, EOS, StoRM: adler32 mostly, md5 or
crc32c on some). lakeprobe asks for adler32 and verifies data with whatever algorithm the storage answered
in: intact data on a storage that offers md5 only is intact, not corrupt. That the storage offers no
adler32 is a finding of its own (class `checksum_unsupported`), never a checksum mismatch.
"""

import base64
import hashlib
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import crc32c as crc32c_lib

PREFERRED = "adler32"  # what Rucio and FTS use by default, and what lakes register
CHUNK = 1 << 20


def _adler32(chunks: Iterable[bytes]) -> str:
    value = 1
    for chunk in chunks:
        value = zlib.adler32(chunk, value)
    return f"{value & 0xFFFFFFFF:08x}"


def _crc32(chunks: Iterable[bytes]) -> str:
    value = 0
    for chunk in chunks:
        value = zlib.crc32(chunk, value)
    return f"{value & 0xFFFFFFFF:08x}"


def _crc32c(chunks: Iterable[bytes]) -> str:
    value = 0
    for chunk in chunks:
        value = crc32c_lib.crc32c(chunk, value)
    return f"{value & 0xFFFFFFFF:08x}"


def _hashlib(name: str) -> Callable[[Iterable[bytes]], str]:
    def digest(chunks: Iterable[bytes]) -> str:
        h = hashlib.new(name)
        for chunk in chunks:
            h.update(chunk)
        return h.hexdigest()

    return digest


ALGORITHMS: dict[str, Callable[[Iterable[bytes]], str]] = {
    "adler32": _adler32,
    "crc32": _crc32,
    "crc32c": _crc32c,
    "md5": _hashlib("md5"),
    "sha1": _hashlib("sha1"),
    "sha256": _hashlib("sha256"),
    "sha512": _hashlib("sha512"),
}
# RFC 3230 / RFC 5843 digest names as HTTP servers write them, and how they encode the value.
_HTTP_NAMES = {
    "adler32": "adler32",
    "crc32": "crc32",
    "crc32c": "crc32c",
    "md5": "md5",
    "sha": "sha1",
    "sha-256": "sha256",
    "sha-512": "sha512",
}
_BASE64 = ("md5", "sha1", "sha256", "sha512")  # RFC 3230: base64 of the digest; the others are hex
WANT_DIGEST = "adler32, md5;q=0.5, crc32c;q=0.4, sha-256;q=0.3"


@dataclass(frozen=True)
class Checksum:
    algorithm: str  # a key of ALGORITHMS, lower case
    value: str  # lower-case hex

    def __str__(self):
        return f"{self.algorithm} {self.value}"


def of_bytes(data: bytes, algorithm: str = PREFERRED) -> Checksum:
    return Checksum(algorithm, ALGORITHMS[algorithm]([data]))


def of_file(path: str, algorithm: str = PREFERRED) -> Checksum:
    def chunks():
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    return Checksum(algorithm, ALGORITHMS[algorithm](chunks()))


def normalise(algorithm: str, value: str) -> Checksum:
    """A checksum as a storage answered it (any case; adler32 without its leading zeros)."""
    algorithm = algorithm.strip().lower()
    value = value.strip().lower()
    if algorithm in ("adler32", "crc32", "crc32c"):
        value = value.rjust(8, "0")
    return Checksum(algorithm, value)


def from_digest_header(header: str) -> Checksum | None:
    """The first usable entry of an HTTP `Digest:` header (RFC 3230), e.g. `adler32=0a1b2c3d` or
    `md5=XrY7u+Ae7tCTyyK7j1rNww==`."""
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        algorithm = _HTTP_NAMES.get(name.strip().lower())
        if algorithm and value:
            if algorithm in _BASE64:
                try:
                    value = base64.b64decode(value.strip()).hex()
                except ValueError:
                    continue
            return normalise(algorithm, value)
    return None


class Expected:
    """The checksums of data we wrote, for every algorithm a storage may answer in, computed on demand."""

    def __init__(self, path: str):
        self.path = path
        self._known: dict[str, Checksum] = {}

    def __getitem__(self, algorithm: str) -> Checksum:
        if algorithm not in self._known:
            self._known[algorithm] = of_file(self.path, algorithm)
        return self._known[algorithm]

    def knows(self, algorithm: str) -> bool:
        return algorithm in ALGORITHMS
