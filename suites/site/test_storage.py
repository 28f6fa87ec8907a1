"""The storage chain, per RSE x protocol, each step its own check: connection, mkdir, upload, stat,
checksum, download, list, delete, stat_after_delete. A step whose prerequisite failed is skipped."""
import os

import pytest

from lakeprobe import connection
from lakeprobe.attempts import attempt, note_throughput
from lakeprobe.errors import ProbeFailure


@pytest.fixture
def retries(request):
    return request.config.getoption("--retries")


@pytest.fixture
def floor(request):
    return request.config.getoption("--slow-floor")


def test_connection(step, record, preflight, tokens, request):
    key = f"{step.rse.name}|{step.protocol}"
    result = preflight.get(key) or connection.check(
        step.rse.url(step.protocol, "/"), step.protocol, step.rse.timeout_s or request.config.getoption("--timeout"),
        tokens.token("probe"))
    record.duration_s = result["duration_s"]
    if result["status"] == "fail":
        raise ProbeFailure(result["error_class"], result["message"])
    if result["status"] == "warn":
        record.status, record.message = "warn", result["message"]


def test_mkdir(step, run_area, record, retries):
    step.needs("connection")
    attempt(record, lambda: run_area.mkdir(step.rse, step.protocol, step.protocol), retries)


def test_upload(step, storage, record, retries, floor):
    step.needs("mkdir")
    expected = None if step.rse.quirks.get("no_checksum") else step.adler32
    done = attempt(record, lambda: storage.upload(step.local, step.file_url, expected), retries)
    note_throughput(record, len(step.data), done.seconds, floor)


def test_stat(step, storage, record, retries):
    step.needs("upload")
    size = attempt(record, lambda: storage.stat(step.file_url), retries).value
    if size != len(step.data):
        raise ProbeFailure("content_mismatch", f"stat says {size} bytes, {len(step.data)} were uploaded")


def test_checksum(step, storage, record, retries):
    step.needs("upload")
    if step.rse.quirks.get("no_checksum"):
        pytest.skip("quirk: the RSE does not compute checksums")
    found = attempt(record, lambda: storage.checksum(step.file_url), retries).value
    if found != step.adler32:
        raise ProbeFailure("checksum_mismatch", f"storage adler32 {found}, ours {step.adler32}")


def test_download(step, storage, record, retries, floor):
    step.needs("upload")
    target = step.local + ".back"
    try:
        done = attempt(record, lambda: storage.download(step.file_url, target), retries)
        with open(target, "rb") as f:
            if f.read() != step.data:
                raise ProbeFailure("content_mismatch", "downloaded bytes differ from the uploaded ones")
    finally:
        if os.path.exists(target):
            os.unlink(target)
    note_throughput(record, len(step.data), done.seconds, floor)


def test_list(step, storage, record, retries):
    step.needs("upload")
    names = attempt(record, lambda: storage.listdir(step.directory), retries).value
    if step.file_url.rsplit("/", 1)[1] not in names:
        raise ProbeFailure("not_found", "the uploaded file is missing from the directory listing")


def test_delete(step, storage, record, retries):
    step.needs("upload")
    attempt(record, lambda: storage.delete(step.file_url), retries)


def test_stat_after_delete(step, storage, record):
    step.needs("delete")
    try:
        storage.stat(step.file_url)
    except ProbeFailure as e:
        if e.error_class == "not_found":
            return
        raise
    raise ProbeFailure("protocol_error", "the file is still there after a successful delete")
