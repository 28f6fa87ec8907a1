"""Chat notifications at the end of a run, from the controller: `--chat slack|mattermost|rocketchat`, with the
incoming webhook's URL in LAKEPROBE_CHAT_WEBHOOK (it is a secret: never on a command line, never printed)."""
import os
import pytest

from lakeprobe.chat import KINDS, notify


def pytest_addoption(parser):
    group = parser.getgroup("lakeprobe-chat", "lakeprobe: chat notifications")
    group.addoption("--chat", choices=KINDS, help="post state changes to this kind of incoming webhook, "
                    "whose URL is in LAKEPROBE_CHAT_WEBHOOK")
    group.addoption("--chat-confirm", type=int, default=2, metavar="RUNS",
                    help="announce a new state once it has held this many runs in a row (default 2)")


@pytest.hookimpl(trylast=True)  # after the record collector exists
def pytest_configure(config):
    if not config.getoption("--chat") or hasattr(config, "workerinput") or not hasattr(config, "lake_collector"):
        return
    if not os.environ.get("LAKEPROBE_CHAT_WEBHOOK"):
        raise pytest.UsageError("--chat needs the webhook's URL in LAKEPROBE_CHAT_WEBHOOK")
    if config.getoption("--chat-confirm") < 1:
        raise pytest.UsageError("--chat-confirm must be at least 1")
    config.pluginmanager.register(ChatNotifier(config), "lakeprobe-chat")


class ChatNotifier:
    def __init__(self, config):
        self.config, self.outcome = config, ""

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session):
        opt, collector = self.config.getoption, self.config.lake_collector
        state = collector.results_dir / "chat-state.json"
        self.outcome = notify(opt("--chat"), os.environ["LAKEPROBE_CHAT_WEBHOOK"], state, collector.run_id,
                              collector.records, opt("--chat-confirm"))

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.write_line(self.outcome)
