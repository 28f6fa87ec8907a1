"""Ctrl-C: the run stops within a moment, records what finished, removes its run directories, and says so in
one line (no KeyboardInterrupt traceback). A second Ctrl-C stops at once.

In every process of the run, the first Ctrl-C abandons the calls still waiting on an endpoint
(lakeprobe/deadline.py) and the checks not yet run are not tried; the process that started the run stops
handing out checks (with pytest-xdist, it shuts its workers down) and ends the run as usual.
"""

import signal

import pytest

from lakeprobe import deadline

MESSAGE = "Ctrl-C: finished checks recorded, the rest not tried"


def install(config, stop):
    """On the first SIGINT: abandon waits and call `stop`; the second one is the default KeyboardInterrupt."""

    def on_interrupt(signum, frame):
        signal.signal(signal.SIGINT, signal.default_int_handler)
        deadline.interrupted.set()
        stop()

    try:
        signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread: the process keeps pytest's own handling
        pass


def stop_session(session):
    """For the process that hands out the checks: stop after the current one. With xdist, its loop shuts the
    workers down at its next event (the workers' own interrupted checks send one at once). Only flags are
    set here: a signal handler that sent to the workers itself could deadlock on a send under way."""

    def stop():
        session.shouldstop = MESSAGE
        dsession = session.config.pluginmanager.getplugin("dsession")
        if dsession is not None:
            dsession.shouldstop = MESSAGE

    return stop


def pytest_sessionstart(session):
    from plugins.lake import run_state

    if run_state(session.config) is None:
        return
    worker = hasattr(session.config, "workerinput")  # a worker stops when its controller tells it to
    install(session.config, (lambda: None) if worker else stop_session(session))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if deadline.interrupted.is_set():
        raise deadline.Interrupted("not tried: the run was interrupted")
