"""Is what the storage holds what we wrote? Checked with the storage's own checksum, in whatever algorithm it
answers in (lakeprobe/checksums.py), never by a client library that insists on adler32."""

from collections.abc import Callable

from lakeprobe.checksums import PREFERRED, Checksum, Expected
from lakeprobe.errors import ErrorClass as E
from lakeprobe.errors import ProbeFailure
from lakeprobe.inventory import RSE
from lakeprobe.records import Record, Status
from lakeprobe.storage import Storage


def stored_intact(storage: Storage, url: str, expected: Expected, rse: RSE) -> Checksum | None:
    """The stored file's checksum when it equals ours; None when the RSE computes none (quirk no_checksum)."""
    if rse.quirks.no_checksum:
        return None
    found = storage.checksum(url)
    if not expected.knows(found.algorithm):
        raise ProbeFailure(
            E.CHECKSUM_UNSUPPORTED,
            f"the storage answers with {found.algorithm}, which lakeprobe cannot compute: nothing verified",
        )
    ours = expected[found.algorithm]
    if found != ours:
        raise ProbeFailure(E.CHECKSUM_MISMATCH, f"stored {found}, ours {ours.value}")
    return found


# A listing through an XRootD cluster's manager over HTTP, or a door's, is one data server's or pool's: a
# file the storage holds elsewhere is missing from it. What a client can rely on is the file itself.
PARTIAL_LISTING = (
    "{what} is missing from the listing, though the storage serves it: the listing came from one server "
    "of a cluster (an XRootD manager's data server, a door's pool) that does not hold it"
)


def listed(record: Record, names: list[str], url: str, there: Callable[[], bool], what: str):
    """The file of `url` is in `names`; if not, `warn` when the storage serves it anyway (`there`), else
    not_found."""
    if url.rsplit("/", 1)[1] in names:
        return
    if not there():
        raise ProbeFailure(E.NOT_FOUND, f"{what} is missing from the listing")
    record.status, record.error_class = Status.WARN, E.NOT_FOUND
    record.message = PARTIAL_LISTING.format(what=what)


def algorithm_wanted(rse: RSE) -> str:
    """adler32, what the lake's transfer tools verify with, unless the RSE declares another on purpose."""
    return rse.quirks.checksum or PREFERRED


def unsupported_note(found: Checksum, rse: RSE) -> str:
    return (
        f"the storage offers {found.algorithm}, not {algorithm_wanted(rse)}: the data verify with "
        f"{found.algorithm} (declare quirks.checksum: {found.algorithm} if that is intended)"
    )
