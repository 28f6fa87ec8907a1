"""The sweeper: removes what killed runs left on the storage. It looks only directly below each RSE's probe
prefix and below `<prefix>/scoped` and `<prefix>/scoped-beside` (the path-scoped token's checks), and there
only at run directories, named by run id, which carries the start time, older than the age given. Anything
else is never touched.

The prefix is checked again here, whatever loaded the inventory: a prefix that is not an absolute,
normalised directory below the storage root (`/`, empty, with `..`) is refused for that RSE, and nothing is
removed there.
"""

import re
import time
from dataclasses import dataclass

from lakeprobe.errors import ErrorClass, NotProbed, ProbeError, ProbeFailure
from lakeprobe.inventory import RSE, probe_area
from lakeprobe.protocols.registry import whole_cluster_first
from lakeprobe.records import run_started
from lakeprobe.state import RUN_AREAS
from lakeprobe.storage import Storage

AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


@dataclass
class Swept:
    rse: str
    url: str
    age_s: float
    outcome: str  # "removed", "would remove" (dry run), or why not


def sweep(
    storage: Storage, rses: list[RSE], older_than_s: float, dry_run: bool = False, now: float | None = None
) -> list[Swept]:
    now = now or time.time()
    swept = []
    for rse in rses:
        protocol = whole_cluster_first(rse.protocols)[0]  # a cluster's leftovers on every data server
        try:
            prefix = probe_area(rse.prefix)
        except ValueError as e:
            swept.append(Swept(rse.name, rse.prefix, 0, f"refused: prefix {e}"))
            continue
        for area in ("/".join(p for p in (prefix, below) if p) for below in RUN_AREAS):
            swept += _sweep_area(storage, rse, rse.url(protocol, area), older_than_s, dry_run, now)
    return swept


def _sweep_area(storage: Storage, rse: RSE, area: str, older_than_s: float, dry_run: bool, now: float) -> list[Swept]:
    try:
        names = storage.listdir(area)
    except ProbeFailure as e:
        if e.error_class == ErrorClass.NOT_FOUND:  # nothing was ever left there
            return []
        return [Swept(rse.name, area, 0, f"cannot list: {e}")]
    except (ProbeError, NotProbed) as e:
        return [Swept(rse.name, area, 0, f"cannot list: {e}")]
    swept = []
    for name in sorted(names):
        started = run_started(name)
        if started is None or now - started < older_than_s:
            continue
        url = f"{area.rstrip('/')}/{name}"
        outcome = "would remove"
        if not dry_run:
            try:
                storage.remove_tree(url)
                outcome = "removed"
            except (ProbeFailure, ProbeError, NotProbed) as e:
                outcome = f"failed: {e}"
        swept.append(Swept(rse.name, url, now - started, outcome))
    return swept


def parse_age(text: str) -> float:
    """'90s', '30m', '6h', '2d' -> seconds; a bare number is refused (seconds or hours?)."""
    match = AGE.match(str(text))
    if not match:
        raise ValueError(f"age {text!r} is not like 90s, 30m, 6h or 2d (the unit is required)")
    return float(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
