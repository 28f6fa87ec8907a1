"""Third-party copy for every selected ordered pair of RSEs, in every copy mode of every protocol both have:
davs pull and push (HTTP-TPC), root:// TPC; never streamed through the prober. The copy is verified at the
destination with the storage's checksum; the destination file is removed after each copy."""

import os
import uuid

import pytest

from lakeprobe import verify
from lakeprobe.areas import random_file
from lakeprobe.attempts import attempt, note_throughput
from lakeprobe.checksums import Expected
from lakeprobe.errors import NotProbed, ProbeError, ProbeFailure


@pytest.fixture(scope="session")
def copy_sources(storage, run_area, run):
    """One source file per RSE and protocol, placed (and verified) on first use: url, or why there is none."""
    placed: dict = {}
    local = random_file(run.options.file_size, "tpc-")
    expected = Expected(local)

    def source(rse, protocol) -> str:
        key = (rse.name, protocol)
        if key not in placed:
            directory = run_area.directory(rse, protocol, "tpc")
            url = f"{directory}/source-{uuid.uuid4().hex[:8]}.dat"
            try:
                run_area.mkdir(rse, protocol, directory)
                storage.put(local, url)
                verify.stored_intact(storage, url, expected, rse)
                placed[key] = url
            except (ProbeFailure, NotProbed) as e:
                placed[key] = NotProbed(
                    f"not tried: no copy source on {rse.name} {protocol}: {str(e).removeprefix('not tried: ')}"
                )
            except ProbeError as e:  # not the storage's doing (the token issuer is down): the copies say so
                placed[key] = e
        if isinstance(placed[key], Exception):
            raise placed[key]
        return placed[key]

    source.expected, source.size = expected, run.options.file_size
    yield source
    os.unlink(local)


def test_copy(copy, record, storage, copy_sources, run_area, run, retries):
    source_rse, destination_rse = copy.source, copy.destination
    record.check, record.protocol, record.mode = copy.check, copy.protocol, copy.mode
    record.rse, record.peer = source_rse.name, destination_rse.name
    run.require((source_rse, copy.protocol), (destination_rse, copy.protocol))
    for rse in (source_rse, destination_rse):
        if copy.mode not in rse.copy_modes(copy.protocol):
            pytest.skip(f"quirk: {rse.name} does not take part in {copy.protocol} {copy.mode} copies")
    source = copy_sources(source_rse, copy.protocol)
    directory = run_area.directory(destination_rse, copy.protocol, "tpc")
    destination = f"{directory}/from-{source_rse.name}-{copy.mode}-{uuid.uuid4().hex[:8]}.dat"
    run_area.mkdir(destination_rse, copy.protocol, directory)
    try:
        done = attempt(record, lambda: storage.copy(source, destination, copy.mode), retries)
        verify.stored_intact(storage, destination, copy_sources.expected, destination_rse)
        note_throughput(record, copy_sources.size, done)
    finally:
        try:
            storage.delete(destination)
        except (ProbeFailure, ProbeError, NotProbed):
            pass
