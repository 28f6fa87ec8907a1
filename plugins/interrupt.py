"""Ctrl-C: the run stops within a moment, records what finished, removes its run directories, and says so in
one line (no KeyboardInterrupt traceback). A second Ctrl-C stops at once.

In every process of the run, the first Ctrl-C abandons the calls still waiting on an endpoint
(lakeprobe/deadline.py) and the checks not yet run are not tried; the process that started the run stops
handing out checks (with pytest-xdist, it shuts its workers down) and ends the run as usual.

A Ctrl-C that comes while pytest-xdist brings its workers up reaches only the process that started the run
(the workers are not there yet), and xdist forgets a stop asked for before its loop begins: that process
leaves a mark in the run's shared directory, which every worker looks at before each check, and asks xdist
again once the workers have collected.
"""

import signal
from pathlib import Path

import pytest

from lakeprobe import deadline
from plugins.run import run_state

MESSAGE = "Ctrl-C: finished checks recorded, the rest not tried"
SPAWNING = pytest.StashKey[int]()  # workers still to spawn


def install(config, stop):
    """On the first SIGINT: abandon waits and call `stop`; the second one is the default KeyboardInterrupt."""

    def on_interrupt(signum, frame):
        signal.signal(signal.SIGINT, signal.default_int_handler)
        deadline.interrupted.set()
        mark = _mark(config)
        if mark is not None:
            mark.touch()
        stop()

    try:
        signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread: the process keeps pytest's own handling
        return
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # a worker's, blocked while it started


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
    if run_state(session.config) is None:
        return
    worker = hasattr(session.config, "workerinput")  # a worker stops when its controller tells it to
    install(session.config, (lambda: None) if worker else stop_session(session))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config, specs):
    """Workers start with SIGINT blocked (a Ctrl-C in the middle of their start-up would break it with a
    traceback): each unblocks it once its handler is in place, and a Ctrl-C that came meanwhile is delivered
    then. The process that starts the run blocks it only in its main thread, while it spawns them: its other
    threads still take a Ctrl-C for it."""
    if _mark(config) is None:
        return  # not a lakeprobe run: pytest's own handling
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    config.stash[SPAWNING] = len(specs)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    if SPAWNING not in node.config.stash:
        return
    node.config.stash[SPAWNING] -= 1
    if node.config.stash[SPAWNING] == 0:  # the last worker is spawned
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    if deadline.interrupted.is_set():  # before xdist's loop began, which forgot it
        node.config.pluginmanager.getplugin("dsession").shouldstop = MESSAGE


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    mark = _mark(item.config)
    if mark is not None and mark.exists():
        deadline.interrupted.set()  # this process, or another of the run, was interrupted
    if deadline.interrupted.is_set():
        raise deadline.Interrupted("not tried: the run was interrupted")


def _mark(config) -> Path | None:
    state = run_state(config)
    return state.shared_dir / "interrupted" if state is not None else None
