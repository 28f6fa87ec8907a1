"""Every network operation has a deadline: a call that does not return in time is abandoned, reported as a
timeout, and the round goes on. Storage clients have timeouts of their own, but a server that accepts a
connection and then says nothing can hold a blocking C call past them; the deadline does not trust them.

A call still waiting after a few seconds is put on the waiting board (lakeprobe/waiting.py), from which the
terminal says what the round waits for and how long is left.
"""

import atexit
import concurrent.futures
import contextlib
import os
import threading
import time
from collections.abc import Callable

from lakeprobe import waiting
from lakeprobe.errors import ErrorClass, NotProbed, ProbeFailure

# A fresh daemon thread per call: a call abandoned at its deadline may stay blocked, and must neither hold
# a pool slot nor keep the interpreter from exiting.
QUIET_S = 5.0  # how long a call may take before the terminal hears about it
SLICE_S = 0.25  # how often a wait looks whether the run was interrupted

# Set on Ctrl-C (plugins/interrupt.py): every call still waiting is abandoned at once, and so is every new one.
interrupted = threading.Event()


class Interrupted(NotProbed):
    """The run was interrupted while this call waited: the check did not run to its end."""


_abandoned = 0
# What must be done however the process leaves: at its normal exit, and also when a process that abandoned
# calls leaves at once (exit_now; os._exit skips atexit): files holding a token, helper processes.
_at_exit: list[Callable[[], object]] = []


def at_exit(fn: Callable[[], object]):
    atexit.register(fn)
    _at_exit.append(fn)


def exit_now(status: int):
    """Leaves at once, after the at_exit work: a call still blocked in a storage client would hold a normal
    exit (the XRootD client's finalizers wait for it)."""
    for fn in reversed(_at_exit):
        try:
            fn()
        except Exception:  # leaving anyway: one failed clean-up must not keep the others from running
            pass
    os._exit(status)


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

    if interrupted.is_set():
        raise Interrupted(f"not tried: interrupted before {what}")
    threading.Thread(target=run, name=f"deadline:{what}", daemon=True).start()
    started = time.monotonic()
    until = started + deadline_s
    on_board = False
    with contextlib.ExitStack() as posted:
        while True:
            try:
                return future.result(timeout=max(0.0, min(SLICE_S, until - time.monotonic())))
            except concurrent.futures.TimeoutError:
                pass
            if interrupted.is_set():
                _abandon()
                raise Interrupted(f"not tried to its end: interrupted during {what}")
            if time.monotonic() >= until:
                _abandon()
                raise ProbeFailure(ErrorClass.TIMEOUT, f"{what}: no answer within its {deadline_s:g} s deadline")
            if not on_board and time.monotonic() - started > QUIET_S:
                posted.enter_context(waiting.board().waiting(what, time.time() + until - time.monotonic()))
                on_board = True


def _abandon():
    global _abandoned
    _abandoned += 1
