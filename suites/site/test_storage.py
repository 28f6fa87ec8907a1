"""The storage chain, per RSE x protocol (with --per-address, per address family too), each step its own
check: connection, mkdir, upload, stat, checksum, download, list, delete, stat_after_delete. A step whose
prerequisite did not pass is skipped, naming the root cause."""

import os

import pytest

from lakeprobe import preflight, verify
from lakeprobe.areas import same_content
from lakeprobe.attempts import attempt, note_throughput
from lakeprobe.errors import ErrorClass, NotProbed, ProbeError, ProbeFailure
from lakeprobe.records import Status


def _verdict(result: dict, record):
    """The check's outcome from a preflight result."""
    if result["status"] == Status.SKIP:
        raise NotProbed(result["message"])
    if result["status"] == Status.FAIL:
        raise ProbeFailure(result["error_class"], result["message"])
    if result["status"] == Status.ERROR:
        raise ProbeError(result["error_class"], result["message"], result["blame"])
    if result["status"] == Status.WARN:
        record.status, record.error_class = Status.WARN, result["error_class"]
    record.message = result["message"]


def _down_everywhere(run, rse, protocol):
    if preflight.every_family_failed(run.preflight, rse, protocol):
        # The endpoint is down at every address: `connection` says so once, not once per family.
        raise NotProbed(f"not tried: connection to {rse.name} {protocol} failed at every address")


def test_connection(step, record, run, tokens):
    """Reachability and trust, from the preflight (all endpoints checked at once before the round); a chain
    forced to one address family has its family's."""
    result = run.preflight.get(preflight.key(step.rse, step.protocol, step.family)) or preflight.connect(
        step.rse, step.protocol, tokens, step.rse.timeout_s or run.options.timeout
    )
    record.duration_s, record.address = result["duration_s"], result.get("address", "")
    if step.family:
        _down_everywhere(run, step.rse, step.protocol)
    _verdict(result, record)


def test_connection_family(family, record, run):
    """The endpoint at its host's first address of one family (IPv4, IPv6), from the preflight: a family that
    fails while the other passes is a finding of its own."""
    rse, protocol, name = family
    record.rse, record.protocol, record.check = rse.name, protocol, f"connection_{name}"
    result = run.preflight[preflight.key(rse, protocol, name)]
    record.family, record.address, record.duration_s = name, result["address"], result["duration_s"]
    _down_everywhere(run, rse, protocol)
    _verdict(result, record)


def test_mkdir(step, run_area, record, retries):
    step.needs("connection")
    attempt(record, lambda: run_area.mkdir(step.rse, step.protocol, step.directory, step.family), retries)


def test_upload(step, record, retries):
    """The file is stored intact: the storage's checksum, in its own algorithm, equals ours."""
    step.needs("mkdir")
    done = attempt(record, lambda: step.storage.put(step.local, step.file_url), retries)
    verify.stored_intact(step.storage, step.file_url, step.expected, step.rse)
    note_throughput(record, step.size, done)


def test_stat(step, record, retries):
    step.needs("upload")
    size = attempt(record, lambda: step.storage.stat(step.file_url), retries).size
    if size != step.size:
        raise ProbeFailure(ErrorClass.CONTENT_MISMATCH, f"stat says {size} bytes, {step.size} were uploaded")


def test_checksum(step, record, retries):
    """The storage offers the lake's checksum (adler32, unless the RSE declares another) and it is ours."""
    step.needs("upload")
    if step.rse.quirks.no_checksum:
        pytest.skip("quirk: the RSE does not compute checksums")
    found = attempt(record, lambda: step.storage.checksum(step.file_url), retries)
    wanted = verify.algorithm_wanted(step.rse)
    if found != step.expected[found.algorithm]:
        raise ProbeFailure(ErrorClass.CHECKSUM_MISMATCH, f"stored {found}, ours {step.expected[found.algorithm].value}")
    if found.algorithm != wanted:
        record.status, record.error_class = Status.WARN, ErrorClass.CHECKSUM_UNSUPPORTED
        record.message = verify.unsupported_note(found, step.rse)


def test_download(step, record, retries):
    step.needs("upload")
    target = step.local + ".back"
    try:
        done = attempt(record, lambda: step.storage.get(step.file_url, target), retries)
        if not same_content(target, step.local):
            raise ProbeFailure(ErrorClass.CONTENT_MISMATCH, "downloaded bytes differ from the uploaded ones")
    finally:
        if os.path.exists(target):
            os.unlink(target)
    note_throughput(record, step.size, done)


def test_list(step, record, retries):
    step.needs("upload")
    names = attempt(record, lambda: step.storage.listdir(step.directory), retries)
    verify.listed(record, names, step.file_url, lambda: _served(step), "the uploaded file")


def _served(step) -> bool:
    try:
        return step.storage.stat(step.file_url).size == step.size
    except ProbeFailure:
        return False


def test_delete(step, record, retries):
    step.needs("upload")
    attempt(record, lambda: step.storage.delete(step.file_url), retries)


def test_stat_after_delete(step):
    step.needs("delete")
    try:
        step.storage.stat(step.file_url)
    except ProbeFailure as e:
        if e.error_class == ErrorClass.NOT_FOUND:
            return
        raise
    raise ProbeFailure(ErrorClass.PROTOCOL_ERROR, "the file is still there after a successful delete")
