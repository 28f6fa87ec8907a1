"""Before the round, every endpoint it touches is checked for reachability and trust, all at once: a hanging
endpoint costs the round one deadline, not one per check. The `connection` check records the result; an
endpoint that failed it is broken for the round (lakeprobe/breaker.py) and what needs it is skipped."""

import concurrent.futures
import time

from lakeprobe.breaker import Breaker
from lakeprobe.deadline import call_with_deadline
from lakeprobe.errors import ProbeError, ProbeFailure
from lakeprobe.inventory import RSE
from lakeprobe.protocols import registry
from lakeprobe.records import ErrorClass, Status
from lakeprobe.tokens import TokenProvider


def key(rse: RSE, protocol: str) -> str:
    return f"{rse.name}|{protocol}"


def connect(rse: RSE, protocol: str, tokens: TokenProvider, timeout_s: float) -> dict:
    """{"status", "error_class", "message", "duration_s", "blame"} of one endpoint; never raises."""
    started = time.monotonic()
    handler = registry.get(protocol)
    base = rse.protocols[protocol]
    try:
        token = tokens.token("probe") if handler.logs_in_with_token else None
        reached = call_with_deadline(
            lambda: handler.connect(base, token, timeout_s), timeout_s, f"connection to {rse.name} {protocol}"
        )
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
    }


def check_all(endpoints: list[tuple[RSE, str]], tokens: TokenProvider, timeout_s: float, breaker: Breaker) -> dict:
    """key(rse, protocol) -> result, for every endpoint not in downtime; failed ones trip the breaker."""
    todo = [(rse, p) for rse, p in endpoints if not rse.downtime]
    results: dict[str, dict] = {}
    if not todo:
        return results
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(32, len(todo))) as pool:
        futures = {key(rse, p): pool.submit(connect, rse, p, tokens, rse.timeout_s or timeout_s) for rse, p in todo}
        for (rse, protocol), (name, future) in zip(todo, futures.items()):
            results[name] = result = future.result()
            if result["status"] == Status.FAIL:
                what = (
                    "timed out" if result["error_class"] == ErrorClass.TIMEOUT else f"failed ({result['error_class']})"
                )
                breaker.trip(rse.name, protocol, f"connection to {rse.name} {protocol} {what}: {result['message']}")
    return results
