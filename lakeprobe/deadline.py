"""Every network operation has a deadline: a call that does not return in time is abandoned, reported as a
timeout, and the round goes on. Storage clients have timeouts of their own, but a server that accepts a
connection and then says nothing can hold a blocking C call past them; the deadline does not trust them."""
import concurrent.futures
import threading

from lakeprobe.errors import ProbeFailure

# A fresh daemon thread per call: a call abandoned at its deadline may stay blocked, and must neither hold
# a pool slot nor keep the interpreter from exiting.


_abandoned = 0


def abandoned() -> int:
    """How many calls this process left behind at their deadline."""
    return _abandoned


def call_with_deadline(fn, deadline_s: float, what: str):
    future = concurrent.futures.Future()

    def run():
        try:
            future.set_result(fn())
        except BaseException as e:  # handed to the caller, who decides what it means
            future.set_exception(e)

    threading.Thread(target=run, name=f"deadline:{what}", daemon=True).start()
    try:
        return future.result(timeout=deadline_s)
    except concurrent.futures.TimeoutError:
        global _abandoned
        _abandoned += 1
        raise ProbeFailure("timeout", f"{what}: no answer within its {deadline_s:g} s deadline") from None
