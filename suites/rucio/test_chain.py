"""Through Rucio, per RSE x protocol, each step its own check: rucio_upload, rucio_replica, rucio_download,
rucio_rule, rucio_rule_transfer. A step whose prerequisite did not pass is skipped, naming the root cause.

A broken endpoint fails the first step with the class the round's preflight found (unreachable, timeout,
tls): the storage is at fault whoever asks. The catalogue's own failures are errors blamed on Rucio
(lakeprobe/catalogue.py)."""

import os
import tempfile
import time

import pytest

from lakeprobe import checksums, preflight
from lakeprobe.areas import same_content
from lakeprobe.attempts import note_throughput
from lakeprobe.errors import ErrorClass as E
from lakeprobe.errors import ProbeFailure
from lakeprobe.storage import Timed

POLL_S = 1.0


def test_rucio_upload(rucio_step, record, run, catalogue, rucio_storage):
    """A fresh file into the probe scope, on this RSE over this protocol, with Rucio's upload client: the
    checksum Rucio registered is ours, and the replica is AVAILABLE. A non-deterministic RSE is given the
    file's path (its PFN), as uploads to one are."""
    f = rucio_step
    preflight.require_reached(run.preflight, f.rse, f.protocol)
    protocol = catalogue.protocol(f.rse.name, f.protocol)
    if protocol is None:
        pytest.skip(f"Rucio offers no {f.protocol} on {f.rse.name}")
    item = {
        "path": f.local,
        "rse": f.rse.name,
        "did_scope": f.scope,
        "did_name": f.name,
        "force_scheme": f.protocol,
        "lifetime": catalogue.settings.lifetime_s,
        "register_after_upload": True,
    }
    if not catalogue.rse(f.rse.name).get("deterministic", True):
        item["pfn"] = _pfn(protocol, f.scope, f.name)
    started = time.monotonic()
    try:
        catalogue.transfer("upload", lambda client, log: _uploader(catalogue, client, log).upload([item]), f.rse.name)
    except ProbeFailure as e:
        if e.error_class != E.PROTOCOL_ERROR:
            raise
        _diagnose(e, catalogue, rucio_storage, f, item.get("pfn"))
    note_throughput(record, f.size, Timed(None, time.monotonic() - started))
    client = catalogue.client()
    # Should this run's cleanup not run, the DID goes when its lifetime ends (Rucio's undertaker).
    catalogue.call("set lifetime", lambda: client.set_metadata(f.scope, f.name, "lifetime", item["lifetime"]))
    replica = _replica(catalogue, f)
    ours = f.expected[checksums.PREFERRED].value
    if checksums.normalise("adler32", replica.get("adler32") or "").value != ours:
        raise ProbeFailure(E.CHECKSUM_MISMATCH, f"Rucio registered adler32 {replica.get('adler32')}, ours {ours}")
    state = replica.get("states", {}).get(f.rse.name)
    if state != "AVAILABLE":
        raise ProbeFailure(E.PROTOCOL_ERROR, f"the replica on {f.rse.name} is {state or 'not registered'}")


def test_rucio_replica(rucio_step, record, catalogue, rucio_storage):
    """Rucio gives a PFN of the file on this RSE for this protocol, and the storage itself holds it there
    with the size and checksum Rucio has: catalogue and storage agree."""
    f = rucio_step
    f.needs("rucio_upload")
    client = catalogue.client()
    found = catalogue.call(
        "list replicas",
        lambda: list(client.list_replicas([f.did], schemes=[f.protocol], rse_expression=f.rse.name)),
    )
    pfns = found[0]["rses"].get(f.rse.name, []) if found else []
    if not pfns:
        raise ProbeFailure(E.PROTOCOL_ERROR, f"Rucio gives no {f.protocol} PFN of the file on {f.rse.name}")
    pfn = pfns[0]
    entry = rucio_storage.stat(pfn)
    if entry.size != found[0]["bytes"]:
        raise ProbeFailure(
            E.CONTENT_MISMATCH, f"{pfn}: {entry.size} bytes on the storage, {found[0]['bytes']} in Rucio"
        )
    if not f.rse.quirks.no_checksum:
        stored = rucio_storage.checksum(pfn)
        registered = checksums.normalise("adler32", found[0].get("adler32") or "")
        if stored.algorithm == "adler32" and stored != registered:
            raise ProbeFailure(E.CHECKSUM_MISMATCH, f"{pfn}: storage has {stored}, Rucio {registered.value}")
        if f.expected.knows(stored.algorithm) and stored != f.expected[stored.algorithm]:
            raise ProbeFailure(E.CHECKSUM_MISMATCH, f"{pfn}: storage has {stored}, the file uploaded had another")


def test_rucio_download(rucio_step, record, catalogue, run):
    """Rucio's download client fetches the file from this RSE over this protocol only, checking its
    checksum; the bytes are those uploaded."""
    f = rucio_step
    f.needs("rucio_upload")
    with tempfile.TemporaryDirectory(prefix="lakeprobe-rucio-") as directory:
        item = {
            "did": f"{f.scope}:{f.name}",
            "rse": f.rse.name,
            "force_scheme": f.protocol,
            "base_dir": directory,
            "no_subdir": True,
            "transfer_timeout": int(run.options.timeout),
        }
        started = time.monotonic()
        results = catalogue.transfer(
            "download", lambda client, log: _downloader(catalogue, client, log).download_dids([item]), f.rse.name
        )
        note_throughput(record, f.size, Timed(None, time.monotonic() - started))
        state = str(results[0].get("clientState", "")) if results else "nothing"
        if not state.endswith("DONE"):
            raise ProbeFailure(E.PROTOCOL_ERROR, f"download from {f.rse.name} ended {state}")
        if not same_content(f.local, os.path.join(directory, f.name)):
            raise ProbeFailure(E.CONTENT_MISMATCH, "the file downloaded differs from the file uploaded")


def test_rucio_rule(rucio_step, record, catalogue):
    """A rule on the RSE that holds the file is met at once: Rucio's rule engine works for this RSE."""
    f = rucio_step
    f.needs("rucio_upload")
    # Another expression than the upload's own rule ("XRD1"), meaning the same RSE: a rule of its own.
    rule_id = _add_rule(catalogue, f, f"{f.rse.name}|{f.rse.name}")
    state = _rule_state(catalogue, rule_id)
    if state != "OK":
        raise ProbeFailure(E.STUCK, f"rule {rule_id} on {f.rse.name}, which holds the file, is {state}")


def test_rucio_rule_transfer(rucio_step, record, catalogue, run):
    """A rule to another RSE is met within the deadline: Rucio moves data (its transfer tool, FTS) from
    this RSE. Where the lake names no transfer tool, such a rule would wait forever: not tried."""
    f = rucio_step
    f.needs("rucio_upload")
    if not catalogue.settings.transfer_tool:
        pytest.skip("the lake names no transfer tool (rucio: transfer_tool): a rule to another RSE waits forever")
    others = [r for r in sorted(run.inventory.rses) if r != f.rse.name and not run.inventory.rses[r].downtime]
    if not others:
        pytest.skip("no other RSE to make a rule to")
    destination = others[sum(map(ord, f.name)) % len(others)]
    record.peer = destination
    rule_id = _add_rule(catalogue, f, destination)
    deadline = time.monotonic() + run.options.timeout
    state = _rule_state(catalogue, rule_id)
    while state != "OK" and time.monotonic() < deadline:
        time.sleep(POLL_S)
        state = _rule_state(catalogue, rule_id)
    if state != "OK":
        raise ProbeFailure(
            E.STUCK, f"rule {rule_id} {f.rse.name}->{destination} still {state} after {run.options.timeout:g} s"
        )


# -- helpers -------------------------------------------------------------------------------------------
def _uploader(catalogue, client, log):
    from rucio.client.uploadclient import UploadClient

    uploader = UploadClient(client, logger=log)
    uploader.auth_token = catalogue.storage_token()  # the storage's token, whatever Rucio's auth is
    return uploader


def _downloader(catalogue, client, log):
    from rucio.client.downloadclient import DownloadClient

    downloader = DownloadClient(client, logger=log)
    downloader.auth_token = catalogue.storage_token()
    return downloader


def _diagnose(failure: ProbeFailure, catalogue, storage, f, pfn: str | None):
    """gfal2 reports some refusals as a bare HTTP 500: the same write, made by lakeprobe's own storage layer
    at the same place, tells which (a read-only or full storage, refused permission). Raises the clearer
    failure, or the first when the storage takes the file from us."""
    if pfn is None:
        client = catalogue.client()
        lfn = f"{f.scope}:{f.name}"
        found = catalogue.call(
            "lfns2pfns", lambda: client.lfns2pfns(f.rse.name, [lfn], operation="write", scheme=f.protocol)
        )
        pfn = found[lfn]
    try:
        storage.mkdir(pfn.rsplit("/", 1)[0])
        storage.put(f.local, pfn)
    except ProbeFailure as found:
        if found.error_class not in (E.PROTOCOL_ERROR, E.UNKNOWN):
            raise ProbeFailure(found.error_class, f"{found} (Rucio's upload: {failure})") from None
        raise failure from None
    storage.delete(pfn)
    raise failure


def _pfn(protocol: dict, scope: str, name: str) -> str:
    prefix = protocol["prefix"].rstrip("/")
    return f"{protocol['scheme']}://{protocol['hostname']}:{protocol['port']}{prefix}/{scope}/{name}"


def _replica(catalogue, f) -> dict:
    client = catalogue.client()
    found = catalogue.call("list replicas", lambda: list(client.list_replicas([f.did], all_states=True)))
    if not found:
        raise ProbeFailure(E.PROTOCOL_ERROR, f"Rucio has no replica of {f.scope}:{f.name} after its upload")
    return found[0]


def _add_rule(catalogue, f, expression: str) -> str:
    client = catalogue.client()
    made = catalogue.call(
        f"add rule on {expression}",
        lambda: client.add_replication_rule(
            [f.did], 1, expression, lifetime=catalogue.settings.lifetime_s, notify="Y", comment="lakeprobe"
        ),
    )
    return made[0]


def _rule_state(catalogue, rule_id: str) -> str:
    client = catalogue.client()
    return str(catalogue.call("get rule", lambda: client.get_replication_rule(rule_id))["state"])
