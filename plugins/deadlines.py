"""A call abandoned at its deadline may still be blocked inside a storage client, and the XRootD client's
finalizers wait for it when the interpreter exits. Once pytest has finished (results written, summary
printed), a process that abandoned calls leaves at once, with pytest's exit status (its token files and
helper processes removed first: lakeprobe/deadline.py's at_exit)."""

import sys

import pytest

from lakeprobe import deadline

EXIT_STATUS = pytest.StashKey[int]()


def pytest_sessionfinish(session, exitstatus):
    session.config.stash[EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if deadline.abandoned() and EXIT_STATUS in config.stash:
        sys.stdout.flush()
        sys.stderr.flush()
        deadline.exit_now(config.stash[EXIT_STATUS])
