"""Chat: one message per round that changed something, to a Slack, Mattermost or Rocket.Chat incoming webhook:
the checks now failing and those back to normal, under the RSE or service each finding blames, so that a
broken site's neighbours are never announced for its fault. Never one message per check per hour.

What is announced is computed from the lake's rounds of the last 24 hours (the results directory or the SQL
sink), not from a state file, so a fresh CI runner announces exactly what a long-lived one would:

- only rounds count: an ad-hoc run (--rse, -k, ...) announces nothing and changes nothing;
- skip and downtime say nothing about a check's health and change nothing;
- flap damping: a check's new state is announced once it has held `confirm` rounds in a row (default 2),
  so a check that flips every round is never announced.

A message the webhook did not take is kept in the results directory (chat-pending.json) and sent with the
next one.
"""

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from lakeprobe.records import Record, Status

# What a storage said, as chat shows it: in a code span (no markup, no link), and with what would still
# mention or link in Slack, Mattermost or Rocket.Chat made harmless (`<!channel>`, `@here`, `https://...`).
_DEFANG = str.maketrans({"`": "'", "<": "‹", ">": "›", "@": "＠"})
DETAIL_CHARS = 120


def in_code_span(text: str) -> str:
    return "`" + text[:DETAIL_CHARS].translate(_DEFANG).replace("://", "[:]//") + "`"


KINDS = ("slack", "mattermost", "rocketchat")
HEALTH = {Status.PASS: "ok", Status.WARN: "ok", Status.FAIL: "failing", Status.ERROR: "failing"}
MAX_LINES = 25
TIMEOUT_S = 10


@dataclass
class Change:
    series: str
    health: str  # the state now announced: failing or ok
    detail: str
    blame: str  # whom the finding implicates (for a check back to normal: whom it implicated)


def series_of(r: Record) -> str:
    """The series of a record (Record.series) in words, as a message names it."""
    return " ".join(p for p in (r.rse + (f"->{r.peer}" if r.peer else ""), r.grid_row[1], r.mode, r.check) if p)


def changes(rounds: list[list[Record]], confirm: int) -> list[Change]:
    """What becomes due with the last of these rounds (oldest first), replaying all of them."""
    state: dict[tuple, dict] = {}
    due: list[Change] = []
    for records in rounds:
        due = []
        for r in _one_per_series(records):
            health = HEALTH.get(r.status)
            if health is None:
                continue
            known = state.setdefault(r.series, {"announced": "ok", "candidate": None, "runs": 0, "blame": ""})
            if health == "failing":
                known["blame"] = r.blame or r.rse
            if health == known["announced"]:
                known.update(candidate=None, runs=0)
                continue
            known["runs"] = known["runs"] + 1 if known["candidate"] == health else 1
            known["candidate"] = health
            if known["runs"] >= confirm:
                known.update(announced=health, candidate=None, runs=0)
                detail = (
                    f"{r.status} ({r.error_class}): {in_code_span(r.message)}"
                    + (f"; what to do: {in_code_span(r.hint)}" if r.hint else "")
                    if health == "failing"
                    else str(r.status)
                )
                due.append(Change(series_of(r), health, detail, known["blame"]))
    return due


def _one_per_series(records: list[Record]) -> list[Record]:
    """A series judged by every shard of a round (rucio_events, each over its own rules) counts once, as
    failing if any shard says so."""
    rank = {"failing": 2, "ok": 1, None: 0}
    kept: dict[tuple, Record] = {}
    for r in records:
        held = kept.get(r.series)
        if held is None or rank[HEALTH.get(r.status)] > rank[HEALTH.get(held.status)]:
            kept[r.series] = r
    return list(kept.values())


def message(lake: str, run_id: str, due: list[Change]) -> str:
    lines = [f"lakeprobe, lake {lake}, round {run_id}"]
    for health, title in (("failing", ":red_circle: failing"), ("ok", ":large_green_circle: back to normal")):
        mine = [c for c in due if c.health == health]
        if not mine:
            continue
        lines.append(f"{title} ({len(mine)}):")
        by_blame: dict[str, list[Change]] = defaultdict(list)
        for c in mine:
            by_blame[c.blame].append(c)
        shown = 0
        for who, items in sorted(by_blame.items()):
            for c in items:
                if shown < MAX_LINES:
                    lines.append(f"- {who}: {c.series}" + (f": {c.detail}" if health == "failing" else ""))
                shown += 1
        if shown > MAX_LINES:
            lines.append(f"... and {shown - MAX_LINES} more (see the status page)")
    return "\n".join(lines)


def payload(kind: str, text: str) -> dict:
    """Each webhook takes `text`; Mattermost and Rocket.Chat also show a sender name."""
    extra = {"mattermost": {"username": "lakeprobe"}, "rocketchat": {"alias": "lakeprobe"}}.get(kind, {})
    return {"text": text, **extra}


def notify(
    kind: str,
    webhook: str,
    rounds: list[list[Record]],
    confirm: int,
    lake: str,
    pending: Path,
    notes: list[str] | None = None,
) -> str:
    """Sends what the last round made due, with anything left undelivered before, and any notes (a shard
    that delivered nothing is said every time); returns one line for the run's summary (naming the webhook's
    host, never its URL)."""
    waiting = [Change(**c) for c in json.loads(pending.read_text())] if pending.exists() else []
    due = waiting + changes(rounds, confirm)
    where = f"{kind} webhook at {urlsplit(webhook).hostname}"
    if not due and not notes:
        return f"chat: nothing changed, nothing sent to the {where}"
    run_id = rounds[-1][0].run_id if rounds and rounds[-1] else "-"
    text = "\n".join([message(lake, run_id, due), *(f":warning: {note}" for note in notes or [])])
    try:
        reply = requests.post(webhook, json=payload(kind, text), timeout=TIMEOUT_S)
        reply.raise_for_status()
    except requests.RequestException as e:
        pending.write_text(json.dumps([asdict(c) for c in due]))
        return f"chat: the {where} did not take the message ({type(e).__name__}); it is sent with the next one"
    pending.unlink(missing_ok=True)
    return f"chat: {len(due)} changes{f' and {len(notes)} notes' if notes else ''} sent to the {where}"
