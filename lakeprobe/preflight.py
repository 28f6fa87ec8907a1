"""Before the round, every endpoint it touches is checked for reachability and trust, all at once: a hanging
endpoint costs the round one deadline, not one per check. The `connection` check records the result; an
endpoint that failed it is broken for the round (lakeprobe/breaker.py) and what needs it is skipped.

Each endpoint is also reached at each address family its host resolves to (the first IPv4 and the first
IPv6 address), forcing the address: a site whose IPv6 path is broken fails `connection_ipv6` while
`connection_ipv4` passes, where a probe that lets the resolver choose sees nothing wrong. A family the host
has no address of is no finding, unless the RSE's quirks require dual stack (then `warn`); a family this
probe host has no route for is `skip`.
"""

import concurrent.futures
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from lakeprobe.breaker import Breaker
from lakeprobe.deadline import call_with_deadline
from lakeprobe.errors import ErrorClass, ProbeError, ProbeFailure
from lakeprobe.hints import implementation
from lakeprobe.inventory import RSE
from lakeprobe.protocols import registry
from lakeprobe.protocols.base import Reached
from lakeprobe.records import Status
from lakeprobe.tokens import TokenProvider

FAMILIES = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}
FAMILY_NAMES = {"ipv4": "IPv4", "ipv6": "IPv6"}


def key(rse: RSE, protocol: str, family: str = "") -> str:
    return f"{rse.name}|{protocol}" + (f"|{family}" if family else "")


def _result(what: str, rse: RSE, timeout_s: float, reach: Callable[[], Reached]) -> dict:
    """{"status", "error_class", "message", "duration_s", "blame"} of one attempt; never raises."""
    started = time.monotonic()
    said = ""
    try:
        reached = call_with_deadline(reach, timeout_s, what)
        said = implementation(reached.implementation)
        status, error_class, message, blame = (
            (Status.WARN if reached.warning else Status.PASS),
            "",
            reached.warning or reached.detail,
            "",
        )
    except ProbeFailure as e:
        status, error_class, message, blame = Status.FAIL, e.error_class, str(e), rse.name
    except ProbeError as e:
        status, error_class, message, blame = Status.ERROR, e.error_class, str(e), e.blame
    return {
        "status": str(status),
        "error_class": str(error_class),
        "message": message,
        "blame": blame,
        "duration_s": round(time.monotonic() - started, 4),
        "implementation": said,
    }


def connect(rse: RSE, protocol: str, tokens: TokenProvider, timeout_s: float) -> dict:
    handler = registry.get(protocol)

    def reach():
        token = tokens.token("probe", rse.audience) if handler.logs_in_with_token else None
        return handler.connect(rse.protocols[protocol], token, timeout_s)

    return _result(f"connection to {rse.name} {protocol}", rse, timeout_s, reach)


def addresses(base: str) -> dict[str, str]:
    """family -> the first address of the endpoint's host in that family; empty when it does not resolve."""
    parts = urlsplit(base)
    try:
        infos = socket.getaddrinfo(parts.hostname or "", parts.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return {}
    found: dict[str, str] = {}
    for family, _, _, _, sockaddr in infos:
        if family in FAMILIES:
            found.setdefault(FAMILIES[family], str(sockaddr[0]))
    return found


def connect_family(rse: RSE, protocol: str, family: str, address: str | None, timeout_s: float) -> dict:
    base = rse.protocols[protocol]
    if address is None:  # only asked for when the RSE requires dual stack
        host = urlsplit(base).hostname
        result = {
            "status": str(Status.WARN),
            "error_class": str(ErrorClass.UNREACHABLE),
            "blame": rse.name,
            "message": f"host {host} has no {FAMILY_NAMES[family]} address: the RSE requires both families",
            "duration_s": 0.0,
        }
    elif not routed(address):
        result = {
            "status": str(Status.SKIP),
            "error_class": "",
            "blame": "",
            "message": f"not tried: this probe host has no route to {FAMILY_NAMES[family]} {address}: "
            f"{rse.name}'s {FAMILY_NAMES[family]} cannot be checked from here",
            "duration_s": 0.0,
        }
    else:
        result = _result(
            f"connection to {rse.name} {protocol} over {FAMILY_NAMES[family]}",
            rse,
            timeout_s,
            lambda: registry.get(protocol).reach_address(base, address, timeout_s),
        )
        if result["status"] in (Status.FAIL, Status.ERROR):
            result["message"] = f"over {FAMILY_NAMES[family]} ({address}): {result['message']}"
    return {**result, "family": family, "address": address or ""}


def routed(address: str) -> bool:
    """Whether this machine has a route to `address`. Connecting a UDP socket sends nothing: it asks the
    routing table only. A probe host without IPv6 (many CI runners) must not blame a site's IPv6 for it."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((address, 9))
    except OSError:  # no route, no source address of the family, the family disabled in the kernel
        return False
    return True


def require_reached(results: dict, rse: RSE, protocol: str):
    """Raises the preflight's failure of the endpoint: whoever asks (the Rucio suite too), a broken endpoint
    fails with the class found, and costs no deadline again."""
    found = results.get(key(rse, protocol))
    if found and found["status"] == Status.FAIL:
        raise ProbeFailure(found["error_class"], found["message"])


def every_family_failed(results: dict, rse: RSE, protocol: str) -> bool:
    """Whether the connection the resolver chose failed and so did every family tried."""
    main = results.get(key(rse, protocol), {})
    tried = [results[key(rse, protocol, f)] for f in FAMILY_NAMES if key(rse, protocol, f) in results]
    failed = (Status.FAIL, Status.ERROR)
    return main.get("status") in failed and all(r["status"] in failed for r in tried)


def check_all(endpoints: list[tuple[RSE, str]], tokens: TokenProvider, timeout_s: float, breaker: Breaker) -> dict:
    """key(rse, protocol[, family]) -> result, for every endpoint not in downtime; an endpoint that failed the
    connection the resolver chose trips the breaker (a family alone does not: the chain does not use it)."""
    todo = [(rse, p) for rse, p in endpoints if not rse.downtime]
    results: dict[str, dict] = {}
    if not todo:
        return results
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(32, 3 * len(todo))) as pool:
        futures = {key(rse, p): pool.submit(connect, rse, p, tokens, rse.timeout_s or timeout_s) for rse, p in todo}
        for rse, p in todo:
            if not registry.get(p).on_network:
                continue
            found = addresses(rse.protocols[p])
            families = ("ipv4", "ipv6") if found and rse.quirks.require_dual_stack else tuple(found)
            for family in families:
                futures[key(rse, p, family)] = pool.submit(
                    connect_family, rse, p, family, found.get(family), rse.timeout_s or timeout_s
                )
        for name, future in futures.items():
            results[name] = result = future.result()
            rse_name, protocol, *per_family = name.split("|")
            if result["status"] == Status.FAIL and not per_family:
                what = (
                    "timed out" if result["error_class"] == ErrorClass.TIMEOUT else f"failed ({result['error_class']})"
                )
                breaker.trip(rse_name, protocol, f"connection to {rse_name} {protocol} {what}: {result['message']}")
    return results
