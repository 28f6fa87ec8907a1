"""Every network operation has a deadline: a call that does not return in time is abandoned, reported as a
timeout, and the round goes on. Storage clients have timeouts of their own, but a server that accepts a
connection and then says nothing can hold a blocking C call past them; the deadline does not trust them.

A call still waiting after a few seconds is put on the waiting board (lakeprobe/waiting.py), from which the
terminal says what the round waits for and how long is left.
"""

import concurrent.futures
import threading
import time

from lakeprobe import waiting
from lakeprobe.errors import ProbeFailure
from lakeprobe.records import ErrorClass

# A fresh daemon thread per call: a call abandoned at its deadline may stay blocked, and must neither hold
# a pool slot nor keep the interpreter from exiting.
QUIET_S = 5.0  # how long a call may take before the terminal hears about it

_abandoned = 0


def abandoned() -> int:
    """How many calls this process left behind at their deadline."""
    return _abandoned


def call_with_deadline(fn, deadline_s: float, what: str):
    future: concurrent.futures.Future = concurrent.futures.Future()

    def run():
        try:
            future.set_result(fn())
        except BaseException as e:  # handed to the caller, who decides what it means
            future.set_exception(e)

    threading.Thread(target=run, name=f"deadline:{what}", daemon=True).start()
    until = time.monotonic() + deadline_s
    try:
        return future.result(timeout=min(QUIET_S, deadline_s))
    except concurrent.futures.TimeoutError:
        pass
    with waiting.board().waiting(what, time.time() + until - time.monotonic()):
        try:
            return future.result(timeout=max(0.0, until - time.monotonic()))
        except concurrent.futures.TimeoutError:
            global _abandoned
            _abandoned += 1
            raise ProbeFailure(ErrorClass.TIMEOUT, f"{what}: no answer within its {deadline_s:g} s deadline") from None
