"""Blame, decided from the round's evidence (lakeprobe/blame.py), on rounds shaped like the lab's faults: a
copy's failure implicates the end whose own checks or other copies fail, never a healthy neighbour; when
the evidence is not decisive the pair is named. (tests/test_blame_lab.py proves the same on the real lab.)"""

from lakeprobe.blame import assign
from lakeprobe.records import Record

RSES = ("XRD1", "XRD2", "XRD3")


def _round(failing=lambda r: False, errors=lambda r: False) -> list[Record]:
    records = []
    for rse in RSES:
        for check in ("connection", "upload", "checksum"):
            records.append(Record(run_id="r", suite="site", check=check, rse=rse, protocol="davs"))
    for a in RSES:
        for b in RSES:
            if a != b:
                for mode in ("pull", "push"):
                    records.append(
                        Record(
                            run_id="r", suite="site", check=f"davs_{mode}", rse=a, peer=b, protocol="davs", mode=mode
                        )
                    )
    for r in records:
        if failing(r):
            r.status, r.error_class, r.message = "fail", "checksum_mismatch", "stored adler32 x, ours y"
        if errors(r):
            r.status, r.error_class, r.blame = "error", "unreachable", "issuer"
    assign(records)
    return records


def test_a_corrupting_destination_is_blamed_for_copies_into_it():
    records = _round(lambda r: r.rse == "XRD2" and r.check == "upload" or r.peer == "XRD2")
    assert {r.blame for r in records if r.is_finding} == {"XRD2"}
    assert all(r.blame == "" for r in records if not r.is_finding)


def test_an_rse_without_tpc_is_blamed_for_the_copies_it_acts_in():
    # tpc-off on XRD2: pulls into it and pushes from it fail, its own chain passes
    records = _round(lambda r: (r.mode == "pull" and r.peer == "XRD2") or (r.mode == "push" and r.rse == "XRD2"))
    assert {r.blame for r in records if r.is_finding} == {"XRD2"}


def test_a_pair_only_failure_names_the_pair():
    records = _round(lambda r: r.rse == "XRD1" and r.peer == "XRD2" and r.mode == "pull")
    assert [r.blame for r in records if r.is_finding] == ["XRD1->XRD2"]


def test_a_service_outage_is_blamed_on_the_service_not_the_storage():
    records = _round(errors=lambda r: r.protocol == "davs")
    assert {r.blame for r in records} == {"issuer"}


def _lone_root_copy(error_class: str, message: str) -> Record:
    """A failed root:// TPC from A to B, the round's only record: no other copy tells the ends apart."""
    return Record(
        run_id="r",
        suite="site",
        check="root_tpc",
        rse="A",
        peer="B",
        protocol="root",
        mode="tpc",
        status="fail",
        error_class=error_class,
        message=message,
    )


def test_the_message_names_the_end_when_the_copies_cannot_tell():
    records = [_lone_root_copy("auth_denied", "root TPC: the source refused the copy: ...")]
    assign(records)
    assert records[0].blame == "A"


def test_a_connection_the_copy_could_not_make_names_the_pair_not_the_end_it_pointed_at():
    """XRootD says "connection refused: (source)" when the destination's agent cannot reach the source: with
    both ends healthy alone, that is the path between them (a firewall), not the source."""
    records = [
        _lone_root_copy("unreachable", "root TPC: transfer: [FATAL] Socket error: connection refused:  (source)")
    ]
    assign(records)
    assert records[0].blame == "A->B"
