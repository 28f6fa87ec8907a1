"""A run's results for Prometheus, in its text exposition format (0.0.4): written as a node-exporter
textfile, atomically, and pushed to a Pushgateway (or a server that takes its protocol, as VictoriaMetrics
does) under a grouping key of job `lakeprobe`, the lake and the shard, so that the shards of a round push
groups of their own and never the same series.

Series, all gauges, one per check (labels lake, suite, check, rse, protocol, peer, mode, family):
  lakeprobe_check_state             the status as a number: -2 downtime, -1 skip, 0 pass, 1 warn, 2 error, 3 fail
  lakeprobe_check_status            1 for the check's status (label `status`), 0 for the five others
  lakeprobe_check_duration_seconds  how long the check took
and per RSE (labels lake, rse, protocol; protocol "all" for the RSE over its protocols):
  lakeprobe_rse_up                  1 up, 0 down, by the round's storage chain; no sample when the RSE was in
                                    downtime or could not be judged (lakeprobe/availability.py)
  lakeprobe_rse_state               1 for the round's state (label `state`: up, down, downtime, unknown)
and lakeprobe_round_timestamp_seconds (labels lake, shard as K-of-N): when the run ended.
"""

import os
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from lakeprobe import availability
from lakeprobe.records import Record, Status
from lakeprobe.schema import STATE

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_CHECK_LABELS = ("suite", "check", "rse", "protocol", "peer", "mode", "family")
_HELP = {
    "lakeprobe_check_state": "The check's status as a number: -2 downtime, -1 skip, 0 pass, 1 warn, 2 error, 3 fail.",
    "lakeprobe_check_status": "1 for the check's status (label status), 0 for the others.",
    "lakeprobe_check_duration_seconds": "How long the check took.",
    "lakeprobe_rse_up": "1 when the RSE's storage chain was up this round, 0 when down; absent otherwise.",
    "lakeprobe_rse_state": "1 for the RSE's state this round (label state), 0 for the others.",
    "lakeprobe_round_timestamp_seconds": "When the run that wrote these series ended (Unix time).",
}


def exposition(records: list[Record], lake: str, shard: str = "", now: float | None = None) -> str:
    samples: dict[str, list[str]] = {name: [] for name in _HELP}
    for r in records:
        labels = {"lake": lake} | {name: getattr(r, name) for name in _CHECK_LABELS}
        samples["lakeprobe_check_state"].append(_sample("lakeprobe_check_state", labels, STATE[r.status]))
        samples["lakeprobe_check_status"] += [
            _sample("lakeprobe_check_status", labels | {"status": str(s)}, int(r.status == s)) for s in Status
        ]
        samples["lakeprobe_check_duration_seconds"].append(
            _sample("lakeprobe_check_duration_seconds", labels, r.duration_s)
        )
    for (rse, protocol), state in sorted(availability.round_states(records).items()):
        labels = {"lake": lake, "rse": rse, "protocol": protocol}
        if state in (availability.State.UP, availability.State.DOWN):
            samples["lakeprobe_rse_up"].append(_sample("lakeprobe_rse_up", labels, int(state == "up")))
        samples["lakeprobe_rse_state"] += [
            _sample("lakeprobe_rse_state", labels | {"state": str(s)}, int(state == s)) for s in availability.State
        ]
    ended = now or time.time()
    samples["lakeprobe_round_timestamp_seconds"].append(
        _sample("lakeprobe_round_timestamp_seconds", {"lake": lake, "shard": shard_label(shard)}, round(ended, 3))
    )
    out = []
    for name, lines in samples.items():
        if lines:
            out += [f"# HELP {name} {_HELP[name]}", f"# TYPE {name} gauge", *lines]
    return "\n".join(out) + "\n"


def write_textfile(path: Path, text: str):
    """Atomically, as node-exporter's textfile collector needs: a file it reads is always whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


VICTORIA_IMPORT = "/api/v1/import/prometheus"


def push_request(base: str, lake: str, shard: str) -> tuple[str, str, dict]:
    """(method, URL, query) of a push. A Pushgateway: PUT to <base>/metrics/job/lakeprobe/lake/<lake>
    [/shard/<K-of-N>], which replaces the group's series (a check that is gone does not linger).
    VictoriaMetrics' import (<base> ending in /api/v1/import/prometheus): POST, the grouping key as extra
    labels."""
    group = {"job": "lakeprobe", "lake": lake} | ({"shard": shard_label(shard)} if shard else {})
    if base.rstrip("/").endswith(VICTORIA_IMPORT):
        return "POST", base.rstrip("/"), {"extra_label": [f"{k}={v}" for k, v in group.items()]}
    path = "".join(_group_part(k, v) for k, v in group.items())
    return "PUT", f"{base.rstrip('/')}/metrics{path}", {}


def push(base: str, text: str, lake: str, shard: str, timeout_s: float) -> str:
    """One line back for the run's summary."""
    import requests

    method, url, query = push_request(base, lake, shard)
    try:
        answer = requests.request(
            method, url, params=query, data=text.encode(), headers={"Content-Type": CONTENT_TYPE}, timeout=timeout_s
        )
    except requests.RequestException as e:
        return f"prometheus {base}: not pushed ({type(e).__name__}); the records are in the run's JSONL"
    if not answer.ok:
        return f"prometheus {base}: not pushed (HTTP {answer.status_code}); the records are in the run's JSONL"
    where = f"lake={lake}" + (f", shard={shard}" if shard else "")
    return f"prometheus {base}: {text.count(chr(10))} lines pushed ({where})"


def _group_part(key: str, value: str) -> str:
    """A grouping key's label in the Pushgateway's URL: base64 where a plain value cannot be (empty)."""
    if not value:
        return f"/{key}@base64/="
    return f"/{key}/{quote(value, safe='')}"


def shard_label(shard: str) -> str:
    """K/N as K-of-N: the Pushgateway's URL path would need base64 for a slash."""
    return shard.replace("/", "-of-")


def _sample(name: str, labels: dict, value) -> str:
    shown = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items() if v != "")
    return f"{name}{{{shown}}} {value}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
