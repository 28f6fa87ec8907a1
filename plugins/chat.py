"""Chat at the end of a round, from the process that started it: `--chat slack|mattermost|rocketchat`, with
the incoming webhook's URL in LAKEPROBE_CHAT_WEBHOOK (a secret: never on a command line, never printed).
What is announced is decided from the lake's rounds of the last 24 hours in the results directory
(lakeprobe/chat.py)."""

import os

import pytest

from lakeprobe import chat, history
from lakeprobe.chat import KINDS
from lakeprobe.records import Record
from lakeprobe.state import RunState


def pytest_addoption(parser):
    group = parser.getgroup("lakeprobe-chat", "lakeprobe: chat notifications")
    group.addoption(
        "--chat",
        choices=KINDS,
        help="post state changes to this kind of incoming webhook, whose URL is in LAKEPROBE_CHAT_WEBHOOK",
    )
    group.addoption(
        "--chat-confirm",
        default="2",
        metavar="ROUNDS",
        help="announce a new state once it has held this many rounds in a row (default 2)",
    )


class Notifier:
    def __init__(self, kind: str, webhook: str, confirm: int, state: RunState):
        self.kind, self.webhook, self.confirm, self.state = kind, webhook, confirm, state

    @staticmethod
    def options(config) -> tuple[str, str, int] | None:
        """(kind, webhook, confirm) of --chat, or None; a usage error for a mistake in them."""
        kind = config.getoption("--chat")
        if not kind:
            return None
        webhook = os.environ.get("LAKEPROBE_CHAT_WEBHOOK", "")
        if not webhook.startswith(("https://", "http://")):
            raise pytest.UsageError("--chat needs the webhook's URL (https://...) in LAKEPROBE_CHAT_WEBHOOK")
        confirm = config.getoption("--chat-confirm")
        if not str(confirm).isdigit() or int(confirm) < 1:
            raise pytest.UsageError(f"--chat-confirm must be a whole number from 1, not {confirm!r}")
        return kind, webhook, int(confirm)

    @classmethod
    def from_options(cls, config, state: RunState) -> "Notifier | None":
        given = cls.options(config)
        return cls(*given, state) if given else None

    def notify(self, records: list[Record]) -> str:
        if self.state.run_kind != "round":
            return "chat: an ad-hoc run announces nothing (only rounds do)"
        earlier = [
            r for r in history.from_results(self.state.results_dir, history.window()) if r.run_id != self.state.run_id
        ]
        rounds = history.rounds(earlier + records, self.state.lake)
        return chat.notify(
            self.kind, self.webhook, rounds, self.confirm, self.state.lake, self.state.results_dir / "chat-pending.json"
        )
