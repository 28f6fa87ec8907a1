"""Every operation a check performs on the lake's endpoints: through the protocol module of the URL's scheme
(lakeprobe/protocols/), with the token of one client passed to that call, under the deadline of the RSEs it
touches (the longest, for a copy), holding one of their operation slots, and not at all on an endpoint
already found broken this round (lakeprobe/breaker.py). A storage pinned to an address family (`--per-address`)
makes every call over that family only (lakeprobe/pinning.py); a stall then breaks that family of the
endpoint, not the endpoint.
"""

import contextlib
import copy
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lakeprobe import pinning
from lakeprobe.breaker import Breaker
from lakeprobe.checksums import Checksum
from lakeprobe.deadline import call_with_deadline
from lakeprobe.errors import ErrorClass, ProbeFailure
from lakeprobe.inventory import RSE
from lakeprobe.protocols import registry
from lakeprobe.protocols.base import Entry, Protocol
from lakeprobe.slots import Slots
from lakeprobe.tokens import TokenProvider


@dataclass
class Timed:
    value: Any
    seconds: float  # the operation, from its request to its end (waiting for a slot is not in it)


class Storage:
    def __init__(
        self,
        tokens: TokenProvider | None,
        timeout_s: float = 60.0,
        rses: Iterable[RSE] = (),
        slots: Slots | None = None,
        breaker: Breaker | None = None,
        client: str = "probe",
    ):
        self.tokens, self.timeout_s, self.slots, self.breaker, self.client = tokens, timeout_s, slots, breaker, client
        self.family = ""
        # Longest base first: two RSEs may share a host and port and differ by their base path.
        self._endpoints = sorted(
            ((rse.protocols[p].rstrip("/") + "/", rse, p) for rse in rses for p in rse.protocols),
            key=lambda e: -len(e[0]),
        )

    def pinned(self, family: str) -> "Storage":
        """This storage with every call over `family` (ipv4, ipv6); "" is the resolver's choice."""
        other = copy.copy(self)
        other.family = family
        return other

    def _endpoint(self, scheme: str) -> str:
        """The breaker's name of the endpoint's protocol: pinned, its family has its own (it may work where
        the resolver's choice broke, or break where that works)."""
        return f"{scheme}-{self.family}" if self.family else scheme

    def locate(self, url: str) -> tuple[RSE | None, str]:
        for base, rse, protocol in self._endpoints:
            if url.startswith(base) or url.rstrip("/") + "/" == base:
                return rse, protocol
        return None, registry.for_url(url).scheme

    def _run(self, what: str, url: str, call: Callable[[Protocol, str | None, float], Any], *more_urls: str) -> Timed:
        ends = [self.locate(u) for u in (url, *more_urls)]
        rses = [rse for rse, _ in ends if rse is not None]
        deadline = max([r.timeout_s for r in rses if r.timeout_s] or [self.timeout_s])
        for rse, scheme in ends:
            if rse is not None and self.breaker:
                self.breaker.check(rse.name, self._endpoint(scheme))
        protocol = pinning.pinned(registry.for_url(url), self.family)
        token = self.token_for(ends[0][0], protocol)
        names = [rse.name if rse else u for (rse, _), u in zip(ends, (url, *more_urls))]
        where = f"{names[1]}->{names[0]}" if len(names) > 1 else f"on {names[0]}"  # a copy: source->destination
        label = f"{what} {where} {protocol.scheme}" + (f" over {self.family}" if self.family else "")
        held = self.slots.held([r.name for r in rses], deadline) if self.slots else contextlib.nullcontext()
        with held:
            started = time.monotonic()
            try:
                value = call_with_deadline(lambda: call(protocol, token, deadline), deadline, label)
            except ProbeFailure as e:
                if e.error_class == ErrorClass.TIMEOUT and self.breaker and len(rses) == 1 == len(ends):
                    # A copy's timeout does not say which end stalled; one endpoint's does.
                    self.breaker.trip(
                        rses[0].name, self._endpoint(ends[0][1]), f"{what} timed out after {deadline:g} s"
                    )
                raise
            return Timed(value, time.monotonic() - started)

    def token_for(self, rse: RSE | None, protocol: Protocol) -> str | None:
        """The token for an operation on `rse`: for its own audience, when it has one."""
        if not self.tokens or not protocol.takes_tokens:
            return None
        return self.tokens.token(self.client, self._audience(rse))

    def _audience(self, rse: RSE | None) -> str:
        return (rse.audience if rse else "") or (self.tokens.audience if self.tokens else "")

    # -- operations ----------------------------------------------------------------------------------
    def mkdir(self, url: str) -> Timed:
        return self._run("mkdir", url, lambda p, token, t: p.mkdir(url, token, t))

    def put(self, local: str, url: str) -> Timed:
        return self._run("upload", url, lambda p, token, t: p.put(local, url, token, t))

    def get(self, url: str, local: str) -> Timed:
        return self._run("download", url, lambda p, token, t: p.get(url, local, token, t))

    def stat(self, url: str) -> Entry:
        return self._run("stat", url, lambda p, token, t: p.stat(url, token, t)).value

    def checksum(self, url: str) -> Checksum:
        return self._run("checksum", url, lambda p, token, t: p.checksum(url, token, t)).value

    def listdir(self, url: str) -> list[str]:
        return self._run("list", url, lambda p, token, t: p.listdir(url, token, t)).value

    def delete(self, url: str) -> Timed:
        return self._run("delete", url, lambda p, token, t: p.delete(url, token, t))

    def rmdir(self, url: str) -> Timed:
        return self._run("rmdir", url, lambda p, token, t: p.rmdir(url, token, t))

    def refresh(self, url: str) -> bool:
        return self._run("locate", url, lambda p, token, t: p.refresh(url, token, t)).value

    def copy(self, source: str, destination: str, mode: str, macaroon: str | None = None) -> Timed:
        """`token` is the destination's; a source that takes tokens for another audience gets its own. With a
        `macaroon`, the end the probe does not talk to (a pull's source, a push's destination) is given it,
        and no token, as FTS does: that end's own macaroon alone authorizes its side of the copy."""
        source_rse = self.locate(source)[0]
        another = self._audience(source_rse) != self._audience(self.locate(destination)[0])

        def tpc(p: Protocol, token: str | None, t: float):
            source_token: str | None = None
            if macaroon and mode == "pull":
                source_token = macaroon
            elif macaroon:
                token, source_token = macaroon, self.token_for(source_rse, p)
            elif another:
                source_token = self.token_for(source_rse, p)
            return p.copy(source, destination, mode, token, t, source_token)

        return self._run(f"{mode} copy", destination, tpc, source)

    def remove_tree(self, url: str):
        """Everything below `url`, then `url` itself; what is not there is fine."""
        try:
            names = self.listdir(url)
        except ProbeFailure as e:
            if e.error_class == ErrorClass.NOT_FOUND:
                return
            raise
        for name in names:
            child = f"{url.rstrip('/')}/{name}"
            if self._stat_listed(child).is_dir:
                self.remove_tree(child)
            else:
                self.delete(child)
        self.rmdir(url)

    def _stat_listed(self, url: str) -> Entry:
        """A listed entry that a stat does not find is one a cluster's manager still remembers as nowhere
        (a data server made it on its own): asked to look again, it finds it."""
        try:
            return self.stat(url)
        except ProbeFailure as e:
            if e.error_class != ErrorClass.NOT_FOUND or not self.refresh(url):
                raise
        return self.stat(url)
