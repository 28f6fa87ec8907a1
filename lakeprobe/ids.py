"""The ids of parametrized checks, made here and read back here (xdist's groups, a round's shards):
`RSE-protocol`, `RSE-protocol-family` for a chain pinned to one address family, and
`SOURCE>DESTINATION-protocol-mode` for a copy. RSE names may hold dashes; protocols, families and modes
do not."""

from dataclasses import dataclass

from lakeprobe.preflight import FAMILY_NAMES


@dataclass(frozen=True)
class CheckId:
    rse: str  # the endpoint's RSE; a copy's destination
    protocol: str
    family: str = ""  # the address family a chain is pinned to
    source: str = ""  # a copy's source RSE
    mode: str = ""  # a copy's mode

    def __str__(self) -> str:
        if self.source:
            return f"{self.source}>{self.rse}-{self.protocol}-{self.mode}"
        return "-".join(p for p in (self.rse, self.protocol, self.family) if p)

    @classmethod
    def parse(cls, text: str) -> "CheckId":
        if ">" in text:
            source, rest = text.split(">", 1)
            destination, protocol, mode = rest.rsplit("-", 2)
            return cls(destination, protocol, source=source, mode=mode)
        rse, protocol = text.rsplit("-", 1)
        if protocol in FAMILY_NAMES:
            (rse, protocol), family = rse.rsplit("-", 1), protocol
            return cls(rse, protocol, family)
        return cls(rse, protocol)


def of_node(nodeid: str) -> tuple[str, CheckId | None]:
    """A node id's module path, and its check's id (None: not parametrized by endpoint or copy)."""
    path, _, name = nodeid.partition("::")
    params = name.partition("[")[2].rstrip("]")
    return path, (CheckId.parse(params) if "-" in params else None)
