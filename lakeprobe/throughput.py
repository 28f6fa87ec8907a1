"""Is an endpoint slow? Judged once per round and endpoint (RSE x protocol), from the round's transfers through
it (its uploads and downloads, and the copies it is an end of), as a check of its own: `throughput`.

One transfer's time says little: a server may take seconds to accept a connection or set a copy up and then
move the data at full speed (XRootD 5.5 does, under load), and a link's speed shows only over many
transfers. So a transfer's rate is the data's own time where the protocol tells set-up apart (root://), and
an endpoint is slow when three in four of its transfers ran below the floor, involving at least two partners
(its own chain counts as one, each copy peer as another): a slow neighbour alone, or late accepts that stall
a part of the connections (seen: 12 of one endpoint's 20 transfers in a healthy 10-RSE round), do not make an
endpoint slow; a throttled one is slow in every transfer. Each transfer's record keeps its own throughput.
"""

import statistics
from collections import defaultdict

from lakeprobe.errors import ErrorClass
from lakeprobe.records import Record, Status

CHECK = "throughput"


def judge(records: list[Record], floor_Bps: float) -> list[Record]:
    """The round's throughput records: one per endpoint whose chain ran here (a copy peer that was not
    selected is not judged on the few copies it took part in, and a round spread over shards judges each
    endpoint once, in the shard of its chain); none when no floor is set."""
    through: dict[tuple[str, str], list[tuple[Record, str]]] = defaultdict(list)  # endpoint -> (transfer, partner)
    for r in records:
        # The storage's own transfers: a transfer through Rucio's clients carries the catalogue's time too.
        if r.suite != "site" or not r.bytes or r.status not in (Status.PASS, Status.WARN):
            continue
        if r.pinned_family:  # forced to one family (--per-address): a diagnosis, not more votes on the endpoint
            continue
        if r.peer:
            through[(r.rse, r.protocol)].append((r, r.peer))
            through[(r.peer, r.protocol)].append((r, r.rse))
        else:
            through[(r.rse, r.protocol)].append((r, r.rse))
    if not floor_Bps or not through:
        return []
    first = records[0]
    judged = []
    for (rse, protocol), transfers in sorted(through.items()):
        if not any(r.rse == rse and not r.peer for r, _ in transfers):
            continue
        rates = [r.throughput_Bps for r, _ in transfers]
        below = [(r, partner) for r, partner in transfers if r.throughput_Bps < floor_Bps]
        slow = 4 * len(below) >= 3 * len(transfers) and len({partner for _, partner in below}) >= 2
        median = statistics.median(rates)
        record = Record.judged_over(
            first,
            "site",
            CHECK,
            rse=rse,
            protocol=protocol,
            bytes=sum(r.bytes for r, _ in transfers),
            duration_s=round(sum(r.duration_s for r, _ in transfers), 4),
            throughput_Bps=round(median, 1),
            ts=max(r.ts for r, _ in transfers),
        )
        if slow:
            record.status, record.error_class = Status.WARN, ErrorClass.SLOW
            record.message = (
                f"slow: {len(below)} of {len(transfers)} transfers below the floor of "
                f"{floor_Bps:.0f} B/s (median {median:.0f} B/s)"
            )
        judged.append(record)
    return judged
