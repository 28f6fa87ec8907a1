"""The framework's own tests run against a real lab of their own (run directory .lab-tests, ports from
23000), brought up once per session and brought down at the end."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.lab import Lab
from lab.layout import Layout, default_run_dir
from lakeprobe.records import read_jsonl
from lakeprobe.tokens import TokenProvider
from lakeprobe.inventory import load_yaml

REPO = Path(__file__).resolve().parent.parent
TEST_BASE_PORT = 23000


@pytest.fixture(scope="session")
def lab():
    layout = Layout.from_env(run_dir=str(default_run_dir()) + "-tests", base_port=TEST_BASE_PORT)
    the_lab = Lab(layout)
    for rse in the_lab.rses():  # a fault left over from an interrupted session must not leak into this one
        if rse.fault:
            the_lab.heal(rse.name)
    the_lab.up(3)
    os.environ["X509_CERT_DIR"] = str(layout.ca_dir)
    yield the_lab
    the_lab.down()


class Env(dict):
    """An environment for commands; its repr hides the values, so a failing assert never prints a token."""

    def __repr__(self):
        return f"<environment with {len(self)} variables>"


def user_env(**extra) -> Env:
    """A user's shell environment plus `extra`, without a bearer token of this process: commands must find
    their own."""
    env = Env({k: v for k, v in os.environ.items() if k != "BEARER_TOKEN"})
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def lab_env(lab) -> Env:
    """Environment for commands run against the test lab, as a user's shell would have it."""
    return user_env(LAKEPROBE_LAB_DIR=str(lab.layout.run_dir), X509_CERT_DIR=str(lab.layout.ca_dir),
                    GFAL_PYTHONBIN="/usr/bin/python3")


@pytest.fixture(scope="session")
def inventory(lab):
    return load_yaml(lab.layout.inventory)


@pytest.fixture(scope="session")
def tokens(inventory) -> TokenProvider:
    return TokenProvider.from_inventory(inventory.issuer, inventory.ca_dir)


def run(argv, env, timeout=600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="session")
def run_suite(lab, lab_env, tmp_path_factory):
    """Runs `pytest suites/site ...` against the test lab as a user would; returns (process, records, seconds)."""
    def run_it(*args, timeout=900, results=None, env=None):
        results = results or tmp_path_factory.mktemp("results")
        started = time.monotonic()
        proc = run([sys.executable, "-m", "pytest", "suites/site", "-p", "no:cacheprovider", "-q",
                    "--inventory", str(lab.layout.inventory), "--results-dir", str(results), *args],
                   env or lab_env, timeout=timeout, cwd=REPO)
        seconds = time.monotonic() - started
        records = [r for f in results.glob("*.jsonl") for r in read_jsonl(f)]
        return proc, records, seconds
    return run_it


@pytest.fixture
def faulty(lab):
    """Inject a fault into a test-lab RSE for the duration of one test; always healed afterwards."""
    injected = []

    def inject(rse, kind):
        lab.fault(rse, kind)
        injected.append(rse)
    yield inject
    for rse in injected:
        lab.heal(rse)


def lakeprobe_cli(*args, env) -> subprocess.CompletedProcess:
    return run([str(Path(sys.executable).parent / "lakeprobe"), *args], env, timeout=300)


def status_json(env) -> dict:
    return json.loads(lakeprobe_cli("lab", "status", "--json", env=env).stdout)
