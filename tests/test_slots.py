"""The per-RSE cap holds across processes, as it must across pytest-xdist workers."""
import multiprocessing
import time

import pytest

from lakeprobe.errors import ProbeError
from lakeprobe.slots import Slots


def _operate(directory, caps, rses, log, hold_s):
    with Slots(directory, caps).held(rses, wait_s=30):
        log.put(("start", tuple(rses), time.monotonic()))
        time.sleep(hold_s)
        log.put(("end", tuple(rses), time.monotonic()))


def _most_at_once(events, rse):
    at_once = most = 0
    for kind, rses, _ in sorted(events, key=lambda e: (e[2], e[0] == "start")):
        if rse in rses:
            at_once += 1 if kind == "start" else -1
            most = max(most, at_once)
    return most


def test_no_more_than_the_cap_operate_on_an_rse_at_once(tmp_path):
    caps = {"SMALL": 2, "BIG": 8}
    log = multiprocessing.Queue()
    jobs = [["SMALL"]] * 4 + [["SMALL", "BIG"]] * 2 + [["BIG"]] * 4  # copies hold both of their ends
    procs = [multiprocessing.Process(target=_operate, args=(tmp_path, caps, rses, log, 0.3)) for rses in jobs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    events = [log.get(timeout=5) for _ in range(2 * len(jobs))]
    assert _most_at_once(events, "SMALL") == 2
    assert _most_at_once(events, "BIG") >= 4  # the small site's cap does not slow the big one down


def test_waiting_for_a_slot_has_a_deadline(tmp_path):
    slots = Slots(tmp_path, {"SMALL": 1})
    with slots.held(["SMALL"], wait_s=1):
        started = time.monotonic()
        with pytest.raises(ProbeError, match="slots of SMALL stayed busy"):
            with Slots(tmp_path, {"SMALL": 1}).held(["SMALL"], wait_s=0.5):
                pass
        assert time.monotonic() - started < 2
