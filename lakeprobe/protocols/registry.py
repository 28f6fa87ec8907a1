"""The protocols lakeprobe speaks, by URL scheme. Adding one is a module implementing base.Protocol and
its line in _classes() below."""

import functools
from urllib.parse import urlsplit

from lakeprobe.protocols.base import Protocol


def _classes() -> tuple[type[Protocol], ...]:
    from lakeprobe.protocols.davs import Davs
    from lakeprobe.protocols.file import File
    from lakeprobe.protocols.root import Root

    return (Davs, Root, File)


@functools.cache
def _protocols() -> dict[str, Protocol]:
    return {cls.scheme: cls() for cls in _classes()}


def schemes() -> tuple[str, ...]:
    return tuple(_protocols())


def get(scheme: str) -> Protocol:
    return _protocols()[scheme]


def for_url(url: str) -> Protocol:
    return get(urlsplit(url).scheme)


def whole_cluster_first(schemes) -> list[str]:
    """`schemes` with those that see a cluster whole (base.Protocol.sees_whole_cluster) first."""
    return sorted(schemes, key=lambda scheme: not get(scheme).sees_whole_cluster)


def copy_modes() -> tuple[str, ...]:
    return tuple(mode for p in _protocols().values() for mode in p.copy_modes)


def endpoint(url: str) -> str:
    """scheme://host:port/ of a URL: what an RSE's protocol entry names."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"
