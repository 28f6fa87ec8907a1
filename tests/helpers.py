"""Shared by the framework's own tests: how they run commands as a user would, and read what came out."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LAKEPROBE = str(Path(sys.executable).parent / "lakeprobe")


class Env(dict):
    """An environment for commands; its repr hides the values, so a failing assert never prints a token."""

    def __repr__(self):
        return f"<environment with {len(self)} variables>"


# What the CI running these tests may set, and would make a suite run as a shard of a round elsewhere.
_NOT_PASSED = (
    "BEARER_TOKEN",
    "BEARER_TOKEN_FILE",
    "CI_NODE_INDEX",
    "CI_NODE_TOTAL",
    "JOB_COMPLETION_INDEX",
    "LAKEPROBE_SHARDS",
    "LAKEPROBE_RUN_ID",
    "CI_PIPELINE_ID",
    "GITHUB_RUN_ID",
)


def user_env(**extra) -> Env:
    """A user's shell environment plus `extra`, without a bearer token of this process (commands must find
    their own) and without the variables that make a run a shard of a CI round."""
    env = Env({k: v for k, v in os.environ.items() if k not in _NOT_PASSED})
    env.update(extra)
    return env


def run(argv, env, timeout=600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, **kwargs)


def lakeprobe_cli(*args, env, timeout=300) -> subprocess.CompletedProcess:
    return run([LAKEPROBE, *args], env, timeout=timeout)


def run_pytest(*args, env, cwd=REPO, timeout=900) -> subprocess.CompletedProcess:
    return run([PYTHON, "-m", "pytest", *args, "-p", "no:cacheprovider"], env, timeout=timeout, cwd=cwd)


def status_json(env) -> dict:
    return json.loads(lakeprobe_cli("lab", "status", "--json", env=env).stdout)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The error a command gave, asserting it is one line and no traceback."""
    text = proc.stderr.strip()
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout[-2000:] + proc.stderr[-2000:]
    errors = [line for line in text.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, text
    return errors[0]


def file_lake(directory: Path, rses=("DISK1", "DISK2"), **extra) -> Path:
    """An inventory of RSEs that are directories of this machine (file://): a real lake that needs no lab."""
    import yaml

    spec = {"lake": "file-lake", "rses": {}}
    for name in rses:
        root = directory / name.lower()
        root.mkdir(parents=True, exist_ok=True)
        spec["rses"][name] = {"protocols": {"file": f"file://{root}/"}}
    spec.update(extra)
    path = directory / "lake.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def bearer_header(token: str, directory: Path, name: str = "Authorization") -> str:
    """A curl `-H @file` argument holding the token: never a token in argv, which a failing assert prints."""
    path = Path(directory) / f"header-{name}-{os.getpid()}"
    path.touch(mode=0o600)
    path.write_text(f"{name}: Bearer {token}\n")
    return f"@{path}"
