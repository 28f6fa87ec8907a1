"""Chat: one message per run that changed something, to a Slack, Mattermost or Rocket.Chat incoming webhook,
listing the checks now failing and those back to normal. Never one message per check per hour.

Flap damping: a check's new state is announced once it has held for `confirm` consecutive runs (default 2),
so a check that flips every run is never announced. skip and downtime say nothing about a check's health and
change nothing. The state lives in results/chat-state.json; an undelivered message is tried again next run.
"""
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from lakeprobe.records import Record

KINDS = ("slack", "mattermost", "rocketchat")
HEALTH = {"pass": "ok", "warn": "ok", "fail": "failing", "error": "failing"}
MAX_LINES = 25
TIMEOUT_S = 10


@dataclass
class Change:
    series: str
    health: str  # the state now announced: failing or ok
    detail: str


def series_of(r: Record) -> str:
    return " ".join(p for p in (r.rse + (f"->{r.peer}" if r.peer else ""), r.protocol, r.mode, r.check) if p)


def changes(state: dict, records: list[Record], confirm: int) -> list[Change]:
    """Updates `state` with this run's records and returns what is now due to be announced."""
    due = []
    for r in records:
        health = HEALTH.get(r.status)
        if health is None:
            continue
        key = series_of(r)
        known = state.setdefault(key, {"announced": None, "candidate": None, "runs": 0})
        if health == known["announced"] or (known["announced"] is None and health == "ok"):
            known.update(announced=known["announced"] or "ok", candidate=None, runs=0)
            continue
        known["runs"] = known["runs"] + 1 if known["candidate"] == health else 1
        known["candidate"] = health
        if known["runs"] >= confirm:
            due.append(Change(key, health, f"{r.status} ({r.error_class}): {r.message[:120]}" if health == "failing"
                              else r.status))
    return due


def mark_announced(state: dict, due: list[Change]):
    for change in due:
        state[change.series].update(announced=change.health, candidate=None, runs=0)


def message(run_id: str, due: list[Change]) -> str:
    failing = [c for c in due if c.health == "failing"]
    back = [c for c in due if c.health == "ok"]
    lines = [f"lakeprobe run {run_id}"]
    if failing:
        lines.append(f":red_circle: failing ({len(failing)}):")
        lines += [f"- {c.series}: {c.detail}" for c in failing[:MAX_LINES]]
    if back:
        lines.append(f":large_green_circle: back to normal ({len(back)}):")
        lines += [f"- {c.series}" for c in back[:MAX_LINES]]
    hidden = max(0, len(failing) - MAX_LINES) + max(0, len(back) - MAX_LINES)
    if hidden:
        lines.append(f"... and {hidden} more (see the status page)")
    return "\n".join(lines)


def payload(kind: str, text: str) -> dict:
    """Each webhook takes `text`; Mattermost and Rocket.Chat also show a sender name."""
    extra = {"mattermost": {"username": "lakeprobe"}, "rocketchat": {"alias": "lakeprobe"}}.get(kind, {})
    return {"text": text, **extra}


def notify(kind: str, webhook: str, state_file: Path, run_id: str, records: list[Record], confirm: int) -> str:
    """Sends this run's message if any; returns one line for the run's summary (never the webhook URL)."""
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    due = changes(state, records, confirm)
    where = f"{kind} webhook at {urlsplit(webhook).hostname}"
    outcome = f"chat: nothing changed, nothing sent to the {where}"
    if due:
        try:
            reply = requests.post(webhook, json=payload(kind, message(run_id, due)), timeout=TIMEOUT_S)
            reply.raise_for_status()
        except requests.RequestException as e:
            state_file.write_text(json.dumps(state))  # the candidates' run counts are kept: retried next run
            return f"chat: the {where} did not take the message ({type(e).__name__}); it is tried again next run"
        mark_announced(state, due)
        outcome = f"chat: {len(due)} changes sent to the {where}"
    state_file.write_text(json.dumps(state))
    return outcome
