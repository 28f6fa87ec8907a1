"""The run's command-line options, checked in one place before anything runs: a mistake is one line naming
the option, never a probe recorded against a site.

pytest hands the options over as given (strings); the model below converts and checks them.
"""

import os
import re
import shutil
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lakeprobe import paths
from lakeprobe.protocols import registry

_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
MAX_FILE_SIZE = 10 << 30


class OptionError(Exception):
    """A bad option; the message is the one line the user sees."""


def size_in_bytes(text: str) -> int:
    """'1048576', '64k', '1M', '1GiB' -> bytes."""
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a size such as 1048576, 64k or 1M")
    return int(match[1]) * _UNITS[match[2].lower()]


class RunOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rse: list[str] = []
    rse_expression: str | None = None
    protocol: list[str] = []
    inventory: str | None = None
    tpc_peer: list[str] = []
    timeout: float = Field(60.0, gt=0, le=24 * 3600)
    rse_concurrency: int = Field(4, ge=1, le=1000)
    file_size: int = Field(1 << 20, ge=1, le=MAX_FILE_SIZE)
    retries: int = Field(2, ge=0, le=10)
    slow_floor: float = Field(256 * 1024, ge=0)
    results_dir: str = ""
    shard: tuple[int, int] | None = None  # (K, N): this process runs shard K of N
    run_id: str | None = None  # given by the scheduler to every shard of a round
    tpc_pairs: str = "all"  # all, or rotate: some peers each round, every pair within 24 rounds
    rotate_peers: int = Field(2, ge=1, le=1000)
    per_address: bool = False  # the storage chain once per address family of each endpoint's host

    @field_validator("shard", mode="before")
    @classmethod
    def _shard(cls, value):
        if value is None or isinstance(value, tuple | list):
            return value
        k, _, n = str(value).partition("/")
        if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
            raise ValueError(f"{value!r} is not K/N with 1 <= K <= N (shard K of N)")
        return int(k), int(n)

    @field_validator("tpc_pairs")
    @classmethod
    def _pairs(cls, value):
        if value not in ("all", "rotate"):
            raise ValueError(f"{value!r} is neither all nor rotate")
        return value

    @field_validator("run_id")
    @classmethod
    def _run_id(cls, value):
        if value is not None and not re.fullmatch(r"[\w.:@+-]{1,128}", value):
            raise ValueError(f"{value!r}: letters, digits and . : @ + - _ only (a pipeline id, a Job name)")
        return value

    @field_validator("file_size", mode="before")
    @classmethod
    def _size(cls, value):
        return size_in_bytes(value) if isinstance(value, str) else value

    @field_validator("rse", "tpc_peer", "protocol")
    @classmethod
    def _once_each(cls, value):
        twice = sorted({v for v in value if value.count(v) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} given more than once")
        return value

    @field_validator("protocol")
    @classmethod
    def _known(cls, value):
        unknown = [p for p in value if p not in registry.schemes()]
        if unknown:
            raise ValueError(f"unknown protocol {', '.join(unknown)}; known: {', '.join(registry.schemes())}")
        return value

    @field_validator("results_dir")
    @classmethod
    def _writable(cls, value):
        directory = Path(value or paths.results_dir())
        if directory.exists() and not directory.is_dir():
            raise ValueError(f"{directory} is a file, not a directory")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as e:
            raise ValueError(f"cannot write in {directory}: {e.strerror}") from None
        return str(directory)

    @field_validator("inventory")
    @classmethod
    def _readable(cls, value):
        if value is not None and not os.path.isfile(value):
            raise ValueError(f"{value}: no such file")
        return value


_SAYS = {
    "timeout": "a number of seconds above 0",
    "rse_concurrency": "a whole number from 1",
    "file_size": f"a size from 1 byte to {MAX_FILE_SIZE >> 30} GiB",
    "retries": "a whole number from 0 to 10",
    "slow_floor": "a number of bytes per second, 0 or more",
    "rotate_peers": "a whole number from 1",
}


def parse(given: dict) -> RunOptions:
    try:
        options = RunOptions.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as e:
        error = e.errors()[0]
        name = str(error["loc"][0])
        option, says = "--" + name.replace("_", "-"), _SAYS.get(name)
        if says and error["type"] != "value_error":
            raise OptionError(f"{option} must be {says}, not {error['input']!r}") from None
        raise OptionError(f"{option}: {error['msg'].removeprefix('Value error, ')}") from None
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if options.file_size > free // 2:
        raise OptionError(
            f"--file-size {options.file_size} bytes does not fit in {tempfile.gettempdir()} "
            f"({free >> 20} MiB free; the probe files are written there)"
        )
    return options
