"""Rucio's events reach their subscribers: `rucio_events`, judged once per run over the whole run.

The process that starts the run subscribes to the broker's topic (the inventory's `broker:`) before any
check runs. Every rule the Rucio suite makes asks for a notification (rucio_rule); Rucio's hermes daemon
sends it to the broker as a `rule_ok` event. At the end of the run, each such rule's event must have
arrived within the deadline. A broker that cannot be reached is an error blamed on the broker; events that
never come are an error blamed on hermes (the catalogue made them; its messenger did not deliver).
"""

import contextlib
import json
import os
import threading
import time
from urllib.parse import urlsplit

from lakeprobe.errors import ErrorClass, scrub
from lakeprobe.inventory import Broker
from lakeprobe.records import Record, Status

CHECK = "rucio_events"
RULE_CHECK = "rucio_rule"
POLL_S = 0.2


class Listener:
    """Subscribed to the broker's topic for the length of the run; keeps the `rule_ok` events' DID names."""

    def __init__(self, broker: Broker, timeout_s: float):
        self.broker, self.timeout_s = broker, timeout_s
        self.failure = ""  # why the subscription could not be made
        self.names: set[str] = set()
        self._lock = threading.Lock()
        self._connection = None

    def start(self):
        import stomp

        parts = urlsplit(self.broker.url)
        listener = self

        class Keep(stomp.ConnectionListener):
            def on_message(self, frame):
                listener._keep(frame.body)

        try:
            connection = stomp.Connection(
                [(parts.hostname, parts.port or 61613)], heartbeats=(0, 0), timeout=self.timeout_s
            )
            if parts.scheme == "stomp+ssl":
                connection.set_ssl([(parts.hostname, parts.port or 61614)])
            connection.set_listener("lakeprobe", Keep())
            connection.connect(self.broker.user, _password(self.broker), wait=True, headers={"host": self.broker.vhost})
            connection.subscribe(self.broker.topic, id="lakeprobe", ack="auto")
            self._connection = connection
        except Exception as e:  # stomp.py raises its own and socket errors
            self.failure = scrub(f"{type(e).__name__}: {e}".strip())[:300] or type(e).__name__

    def _keep(self, body: str):
        try:
            event = json.loads(body)
        except ValueError:
            return
        if str(event.get("event_type", "")).lower() == "rule_ok":
            with self._lock:
                self.names.add(str(event.get("payload", {}).get("name", "")))

    def heard(self, prefix: str) -> bool:
        with self._lock:
            return any(name.startswith(prefix) for name in self.names)

    def stop(self):
        if self._connection is not None:
            with contextlib.suppress(Exception):  # the run is over: a broker gone meanwhile changes nothing
                self._connection.disconnect()


def _password(broker: Broker) -> str:
    if broker.password_file:
        with open(os.path.expanduser(broker.password_file)) as f:
            return f.read().strip()
    return os.environ.get("LAKEPROBE_BROKER_PASSWORD", "")


def judge(records: list[Record], listener: Listener | None) -> list[Record]:
    """The run's rucio_events record: none when the run made no rule, or names no broker."""
    ruled = sorted({(r.rse, r.protocol) for r in records if r.check == RULE_CHECK and r.status == Status.PASS})
    if listener is None or not ruled:
        return []
    first = records[0]
    record = Record.judged_over(
        first,
        "services",
        CHECK,
        rse="rucio",
        protocol=urlsplit(listener.broker.url).scheme,
        ts=time.time(),
    )
    if listener.failure:
        record.status, record.error_class, record.blame = Status.ERROR, ErrorClass.UNREACHABLE, "broker"
        record.message = (
            f"the broker {urlsplit(listener.broker.url).netloc} could not be subscribed to: {listener.failure}"
        )
        return [record]
    started = time.monotonic()
    prefixes = {f"{first.run_id}-{rse}-{protocol}-": (rse, protocol) for rse, protocol in ruled}
    missing = [p for p in prefixes if not listener.heard(p)]
    while missing and time.monotonic() - started < listener.timeout_s:
        time.sleep(POLL_S)
        missing = [p for p in missing if not listener.heard(p)]
    record.duration_s = round(time.monotonic() - started, 3)
    if missing:
        record.status, record.error_class, record.blame = Status.ERROR, ErrorClass.TIMEOUT, "hermes"
        named = ", ".join(" ".join(prefixes[p]) for p in missing[:3])
        record.message = (
            f"no rule_ok event on {listener.broker.topic} for {len(missing)} of {len(prefixes)} rules of this "
            f"run within {listener.timeout_s:g} s ({named}): Rucio's hermes does not deliver"
        )
    else:
        record.status = Status.PASS
        record.message = f"{len(prefixes)} rule_ok events on {listener.broker.topic}"
    return [record]
