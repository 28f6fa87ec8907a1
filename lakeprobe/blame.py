"""Whom a finding implicates, decided from the evidence of the whole round, in one place.

- A pass, skip or downtime implicates nobody.
- A finding of the services suite implicates the service; an error whose cause is known (the token issuer
  down) already names it; any other error is lakeprobe's own (`lakeprobe`).
- A finding of one endpoint (the chain, the token checks) implicates its RSE.
- A copy's finding is weighed: each end is *implicated* when its own chain in that protocol failed this
  round (or has a finding of the copy's own class: a slow site's uploads are slow too), or when every other
  copy of the same protocol and mode in which it has the same role (source or destination) has a finding
  too; it is *cleared* when such another copy passed. One implicated end and the other
  not: that end. Otherwise the message may say which end refused (our root:// TPC names the step, gfal2
  says SOURCE or DESTINATION), for an end that is not cleared; an end that could not be reached is not
  such a refusal: the connection was the pair's (a firewall between them), its end healthy alone. Anything
  else is not decisive: the pair, "SOURCE->DESTINATION", is named rather than a guess.
"""

from collections import defaultdict

from lakeprobe.errors import ErrorClass
from lakeprobe.records import Record, Status

_CHAIN_FAILURES = ("connection", "mkdir", "upload", "download", "stat", "checksum", "delete")


def assign(records: list[Record]):
    chain: dict[tuple[str, str], set] = defaultdict(set)  # (rse, protocol) -> what its own chain found
    for r in records:
        pinned = r.pinned_family  # copies run at the address the resolver picks: a forced family says nothing
        if not r.peer and r.suite == "site" and r.check in _CHAIN_FAILURES and r.is_finding and not pinned:
            chain[(r.rse, r.protocol)].add("fail" if r.status == Status.FAIL else r.error_class)
    copies = defaultdict(list)  # (protocol, mode) -> copy records
    for r in records:
        if r.peer:
            copies[(r.protocol, r.mode)].append(r)
    for r in records:
        if not r.is_finding:
            r.blame = ""
        elif r.blame:
            continue  # the check knew (a service it depends on broke)
        elif r.suite == "services" or not r.peer:
            r.blame = r.rse if r.status != Status.ERROR or r.suite == "services" else "lakeprobe"
        elif r.status == Status.ERROR:
            r.blame = "lakeprobe"
        else:
            r.blame = _copy_blame(r, copies[(r.protocol, r.mode)], chain)


def _copy_blame(copy: Record, same_kind: list[Record], chain: dict) -> str:
    verdict = {}
    for end, role, other in ((copy.rse, "rse", copy.peer), (copy.peer, "peer", copy.rse)):
        others = [
            r
            for r in same_kind
            if getattr(r, role) == end
            and r is not copy
            and (r.peer if role == "rse" else r.rse) != other
            and r.status != Status.SKIP
            and r.status != Status.DOWNTIME
        ]
        found = chain.get((end, copy.protocol), set())
        if "fail" in found or copy.error_class in found or (others and all(r.is_finding for r in others)):
            verdict[end] = "implicated"
        elif any(not r.is_finding for r in others):
            verdict[end] = "cleared"
        else:
            verdict[end] = "unknown"
    implicated = [end for end, v in verdict.items() if v == "implicated"]
    if len(implicated) == 1:
        return implicated[0]
    if not implicated:
        said = _end_named_in(copy)
        if said and verdict[said] != "cleared":
            return said
    return f"{copy.rse}->{copy.peer}"


def _end_named_in(copy: Record) -> str:
    if copy.error_class == ErrorClass.UNREACHABLE:  # "refused (source)": where it pointed, not who failed
        return ""
    text = copy.message.lower()
    if "source" in text and "destination" not in text:
        return copy.rse
    if "destination" in text and "source" not in text:
        return copy.peer
    return ""
