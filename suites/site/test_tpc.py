"""Third-party copy for every selected ordered pair of RSEs: davs pull, davs push and root:// TPC.
The copy's adler32 is verified at the destination; the destination file is removed after each copy and
the source files at the end of the round."""
import os
import uuid

import pytest

from lakeprobe.attempts import attempt, note_throughput
from lakeprobe.errors import ProbeError, ProbeFailure
from lakeprobe.storage import adler32_of
from plugins.records import Downtime


@pytest.fixture(scope="session")
def tpc_sources(storage, run_area, request):
    """One source file per RSE and protocol, placed on first use: url, or the reason it could not be."""
    placed, data = {}, os.urandom(request.config.getoption("--file-size"))
    local = f"/tmp/lakeprobe-tpc-{uuid.uuid4().hex}"
    with open(local, "wb") as f:
        f.write(data)

    def source(rse, protocol):
        key = (rse.name, protocol)
        if key not in placed:
            url = f"{run_area.directory(rse, protocol, 'tpc')}/source-{uuid.uuid4().hex[:8]}.dat"
            try:
                run_area.mkdir(rse, protocol, "tpc")
                storage.upload(local, url, adler32_of(data))
                placed[key] = (url, "")
            except ProbeFailure as e:
                placed[key] = ("", str(e))
        return placed[key]

    source.adler32, source.size = adler32_of(data), len(data)
    yield source
    os.unlink(local)
    for url, _ in placed.values():
        if url:
            try:
                storage.delete(url)
            except (ProbeFailure, ProbeError):
                pass


def _copy(copy_pair, protocol, mode, record, storage, tpc_sources, run_area, preflight, request):
    source_rse, destination_rse = copy_pair
    record.rse, record.peer, record.protocol, record.mode = source_rse.name, destination_rse.name, protocol, mode
    for rse in copy_pair:  # a declared downtime says more than any quirk or connection result
        if rse.downtime:
            raise Downtime(f"downtime of {rse.name}: {rse.downtime}")
    for rse in copy_pair:
        reach = preflight.get(f"{rse.name}|{protocol}", {})
        if reach.get("status") == "fail":
            pytest.skip(f"{rse.name} {protocol} connection failed ({reach['error_class']})")
        if mode not in rse.tpc_modes():
            pytest.skip(f"quirk: {rse.name} does not support TPC mode {mode}")
    source_url, why_not = tpc_sources(source_rse, protocol)
    if not source_url:
        pytest.skip(f"no source file on {source_rse.name}: {why_not}")
    destination = f"{run_area.directory(destination_rse, protocol, 'tpc')}/from-{source_rse.name}-{mode}-" \
                  f"{uuid.uuid4().hex[:8]}.dat"
    run_area.mkdir(destination_rse, protocol, "tpc")
    try:
        if protocol == "davs":
            copy = lambda: storage.http_tpc(source_url, destination, mode, tpc_sources.adler32)  # noqa: E731
        else:
            copy = lambda: storage.root_tpc(source_url, destination, tpc_sources.adler32)  # noqa: E731
        done = attempt(record, copy, request.config.getoption("--retries"))
        found = storage.checksum(destination).value
        if found != tpc_sources.adler32:
            raise ProbeFailure("checksum_mismatch", f"destination adler32 {found}, source {tpc_sources.adler32}")
        note_throughput(record, tpc_sources.size, done.seconds, request.config.getoption("--slow-floor"))
    finally:
        try:
            storage.delete(destination)
        except ProbeFailure:
            pass


def test_davs_pull(copy_pair, record, storage, tpc_sources, run_area, preflight, request):
    _copy(copy_pair, "davs", "pull", record, storage, tpc_sources, run_area, preflight, request)


def test_davs_push(copy_pair, record, storage, tpc_sources, run_area, preflight, request):
    _copy(copy_pair, "davs", "push", record, storage, tpc_sources, run_area, preflight, request)


def test_root_tpc(copy_pair, record, storage, tpc_sources, run_area, preflight, request):
    _copy(copy_pair, "root", "tpc", record, storage, tpc_sources, run_area, preflight, request)
