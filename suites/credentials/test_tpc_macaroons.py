"""HTTP third-party copy with macaroons, the FTS way, per ordered pair of RSEs marked `macaroons: true` and
copy mode, over davs. The probe's token authorizes the end the probe talks to; the other end is given a
macaroon that it issued, and no token: gfal2 hands that end's credential over as
`TransferHeaderAuthorization: Bearer <macaroon>`. A pull (`davs_pull_macaroon`) gives the destination a
DOWNLOAD,LIST macaroon of the source file; a push (`davs_push_macaroon`) gives the source an
UPLOAD,DELETE,LIST macaroon of the destination file.

The copy is read back at the destination with the probe's token, byte for byte, then removed. A pair
whose other end issues no macaroon is not tried: that end's macaroon_issue says why."""

import os
import uuid
from urllib.parse import urlsplit

import pytest

from lakeprobe.attempts import attempt
from lakeprobe.errors import ErrorClass, NotProbed, ProbeError, ProbeFailure

RSES_WITH = "macaroons"  # the RSEs these copies run between: those marked `macaroons: true`
# What the other end's macaroon allows: gfal2 also stats the file there before the copy (LIST, for dCache).
ACTIVITIES = {"pull": "DOWNLOAD,LIST", "push": "UPLOAD,DELETE,LIST"}
VALIDITY_S = 600
CONTENT = os.urandom(256 * 1024)


@pytest.fixture(scope="session")
def macaroon_sources():
    """One source file per RSE, written with the probe's token on first use: its URL, or why there is none."""
    placed: dict = {}

    def source(end) -> str:
        if end.rse.name not in placed:
            url = end.url(f"tpc-source-{uuid.uuid4().hex[:8]}.dat")
            try:
                written = end.with_bearer("write", url, end.token, CONTENT)
                placed[end.rse.name] = url if written else NotProbed(f"not tried: {end.rse.name} refused a source")
            except ProbeFailure as e:
                placed[end.rse.name] = NotProbed(f"not tried: no copy source on {end.rse.name}: {e}")
        if isinstance(placed[end.rse.name], Exception):
            raise placed[end.rse.name]
        return placed[end.rse.name]

    return source


def test_copy_with_macaroon(macaroon_copy, record, run, storage, credential_endpoint_of, macaroon_sources):
    copy = macaroon_copy
    record.check, record.protocol, record.mode = copy.check, "davs", f"{copy.mode}_macaroon"
    record.rse, record.peer = copy.source.name, copy.destination.name
    run.require((copy.source, "davs"), (copy.destination, "davs"))
    for rse in (copy.source, copy.destination):
        if copy.mode not in rse.copy_modes("davs"):
            pytest.skip(f"quirk: {rse.name} does not take part in davs {copy.mode} copies")
    if len({urlsplit(r.protocols["davs"]).netloc for r in (copy.source, copy.destination)}) == 1:
        # gfal2 keeps one credential per host and port: the macaroon and the token would be one.
        raise NotProbed("not tried: both ends are one host and port, which gfal2 gives one credential")
    try:
        source_end, destination_end = (
            credential_endpoint_of(r, "davs", RSES_WITH) for r in (copy.source, copy.destination)
        )
    except ProbeFailure as e:
        raise NotProbed(f"not tried: no directory for the copy: {e}") from None
    source = macaroon_sources(source_end)
    destination = destination_end.url(f"from-{copy.source.name}-{copy.mode}-{uuid.uuid4().hex[:8]}.dat")
    other, its_file = (source_end, source) if copy.mode == "pull" else (destination_end, destination)
    activities = ACTIVITIES[copy.mode]
    try:
        macaroon = other.ask_macaroon(its_file, activities, VALIDITY_S)
    except ProbeFailure as e:
        raise NotProbed(
            f"not tried: {other.rse.name} issues no macaroon ({e.error_class}: see macaroon_issue)"
        ) from None
    try:
        done = attempt(record, lambda: storage.copy(source, destination, copy.mode, macaroon), run.options.retries)
        read = destination_end.with_bearer("read", destination, destination_end.token)
        if not read:
            raise ProbeFailure(ErrorClass.AUTH_DENIED, f"refused the probe's token a read of the copy{read.via}")
        if read.value != CONTENT:
            raise ProbeFailure(ErrorClass.CONTENT_MISMATCH, f"the copy holds {len(read.value)} other bytes")
        record.message = f"copied with {other.rse.name}'s {activities} macaroon in {done.seconds:.2f} s"
    finally:
        try:
            destination_end.with_bearer("delete", destination, destination_end.token)
        except (ProbeFailure, ProbeError):
            pass
