"""The sweeper: removes what killed runs left on the storage. It looks only below each RSE's probe prefix,
and there only at run directories (named by run id, which carries its start time) older than the age
given; anything else, under the prefix or not, is never touched."""
import re
import time
from calendar import timegm
from dataclasses import dataclass

from lakeprobe.errors import ProbeFailure
from lakeprobe.storage import Storage

RUN_DIRECTORY = re.compile(r"^(\d{8}T\d{6}Z)-[0-9a-f]{6}$")  # lakeprobe.records.new_run_id


@dataclass
class Swept:
    rse: str
    url: str
    age_s: float
    outcome: str  # "removed", "would remove" (dry run) or the failure


def run_started(name: str) -> float | None:
    match = RUN_DIRECTORY.match(name)
    return timegm(time.strptime(match[1], "%Y%m%dT%H%M%SZ")) if match else None


def sweep(storage: Storage, rses, older_than_s: float, dry_run: bool = False, now: float | None = None) -> list[Swept]:
    now = now or time.time()
    swept = []
    for rse in rses:
        protocol = "davs" if "davs" in rse.protocols else "root"
        prefix = rse.url(protocol, rse.prefix)
        try:
            names = storage.listdir(prefix).value
        except ProbeFailure as e:
            if e.error_class != "not_found":  # no prefix yet: nothing was ever left there
                swept.append(Swept(rse.name, prefix, 0, f"cannot list: {e}"))
            continue
        for name in sorted(names):
            started = run_started(name)
            if started is None or now - started < older_than_s:
                continue
            url = f"{prefix.rstrip('/')}/{name}"
            outcome = "would remove" if dry_run else _remove_tree(storage, url)
            swept.append(Swept(rse.name, url, now - started, outcome))
    return swept


def _remove_tree(storage: Storage, url: str) -> str:
    try:
        for name in storage.listdir(url).value:
            child = f"{url}/{name}"
            if storage.is_dir(child):
                outcome = _remove_tree(storage, child)
                if outcome != "removed":
                    return outcome
            else:
                storage.delete(child)
        storage.rmdir(url)
    except ProbeFailure as e:
        return f"failed: {e}"
    return "removed"


def parse_age(text: str) -> float:
    """'90s', '30m', '6h', '2d' (or plain seconds) -> seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if not match:
        raise ValueError(f"age {text!r} is not like 30m, 6h or 2d")
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
