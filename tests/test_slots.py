"""The per-RSE cap holds across processes, as it must across pytest-xdist workers."""

import multiprocessing
import time

import pytest

from lakeprobe.errors import ProbeError
from lakeprobe.slots import Slots


def _hold(directory, caps, rses, counts, lock, barrier):
    """Hold a slot of each RSE; wait there until `barrier.parties` jobs hold theirs at once."""
    with Slots(directory, caps).held(rses, wait_s=60):
        with lock:
            for n, rse in enumerate(("SMALL", "BIG")):
                if rse in rses:
                    counts[n] += 1
                    counts[2 + n] = max(counts[2 + n], counts[n])
        barrier.wait(timeout=30)
        with lock:
            for n, rse in enumerate(("SMALL", "BIG")):
                if rse in rses:
                    counts[n] -= 1


def test_no_more_than_the_cap_operate_on_an_rse_at_once(tmp_path):
    """Counted, not timed: SMALL (cap 2) lets its jobs through two by two, BIG (cap 8) four at once."""
    caps = {"SMALL": 2, "BIG": 8}
    counts, lock = multiprocessing.Array("i", 4), multiprocessing.Lock()  # holding now, most at once: SMALL, BIG
    two, four = multiprocessing.Barrier(2), multiprocessing.Barrier(4)
    jobs = [(["SMALL"], two)] * 2 + [(["SMALL", "BIG"], two)] * 2 + [(["BIG"], four)] * 4  # copies hold both ends
    procs = [
        multiprocessing.Process(target=_hold, args=(tmp_path, caps, rses, counts, lock, barrier))
        for rses, barrier in jobs
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * len(jobs)  # every barrier was met: no job waited in vain
    assert counts[2] == 2  # SMALL never had more than its cap
    assert counts[3] >= 4  # the small site's cap did not slow the big one down


def test_waiting_for_a_slot_has_a_deadline(tmp_path):
    slots = Slots(tmp_path, {"SMALL": 1})
    with slots.held(["SMALL"], wait_s=1):
        started = time.monotonic()
        with (
            pytest.raises(ProbeError, match="slots of SMALL stayed busy"),
            Slots(tmp_path, {"SMALL": 1}).held(["SMALL"], wait_s=0.5),
        ):
            pass
        assert time.monotonic() - started < 2
