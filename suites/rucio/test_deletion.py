"""rucio_deletion, per RSE x protocol: what earlier runs left to Rucio to delete (their rules removed, or
their lifetime over) is gone from the storage once the grace time has passed.

The suite's files live in the probe scope with a lifetime (rucio: lifetime_s); a run removes its rules when
it ends, and Rucio's reaper deletes the replicas. A file of this RSE and protocol made longer ago than the
lifetime and the grace (rucio: deletion_grace_s) should be gone: the check looks at the storage itself for
those Rucio still lists, and never waits on the reaper."""

import datetime
import time

from lakeprobe import preflight
from lakeprobe.errors import ErrorClass as E
from lakeprobe.errors import ProbeFailure

MAX_LOOKED_AT = 20  # files looked at on the storage per check: a reaper down for days leaves many
NAMED = 3  # files named in the message


def test_rucio_deletion(rucio_endpoint, record, run, catalogue, rucio_storage):
    rse, protocol = rucio_endpoint
    record.rse, record.protocol = rse.name, protocol
    run.require(rucio_endpoint)
    preflight.require_reached(run.preflight, rse, protocol)
    settings = catalogue.settings
    due_since = time.time() - settings.lifetime_s - settings.deletion_grace_s
    client = catalogue.client()
    filters = {
        "name": f"*-{rse.name}-{protocol}-*",
        "created_before": datetime.datetime.fromtimestamp(due_since, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    due = catalogue.call("list due files", lambda: list(client.list_dids(catalogue.scope, filters, did_type="file")))
    left = []
    for name in sorted(due)[:MAX_LOOKED_AT]:
        found = catalogue.call(
            "list replicas",
            lambda n=name: list(
                client.list_replicas(
                    [{"scope": catalogue.scope, "name": n}],
                    schemes=[protocol],
                    rse_expression=rse.name,
                    all_states=True,
                )
            ),
        )
        for pfn in found[0]["rses"].get(rse.name, []) if found else []:
            if _on_storage(rucio_storage, pfn):
                left.append(name)
    if left:
        names = ", ".join(left[:NAMED]) + (f" and {len(left) - NAMED} more" if len(left) > NAMED else "")
        raise ProbeFailure(
            E.NOT_DELETED,
            f"{len(left)} files due for deletion more than {settings.deletion_grace_s} s ago are still on "
            f"{rse.name}: {names} (Rucio's reaper could not delete them, or does not run)",
        )
    record.message = f"{len(due)} files due for deletion still in Rucio, none on the storage" if due else ""


def _on_storage(storage, pfn: str) -> bool:
    try:
        storage.stat(pfn)
    except ProbeFailure as e:
        if e.error_class == E.NOT_FOUND:
            return False
        raise
    return True
