"""The throughput verdict: an endpoint is slow when three in four of its transfers, with at least two
partners, ran below the floor; connections accepted late (a part of them) make no endpoint slow."""

from lakeprobe import throughput
from lakeprobe.records import Record

FLOOR = 256 * 1024
FAST, STALLED, THROTTLED = 5e6, 1024 * 1024 / 5.05, 64 * 1024  # a 1 MiB transfer 5 s late: ~207 KB/s


def _round(rates_of_copies: list[float]) -> list[Record]:
    """XRD1's chain (upload, download) at full speed, and its copies with peers at the rates given."""
    records = [
        Record("r", "site", check, rse="XRD1", protocol="root", bytes=1 << 20, throughput_Bps=FAST)
        for check in ("upload", "download")
    ]
    records += [
        Record(
            "r", "site", "copy", rse="XRD1", peer=f"XRD{2 + i % 9}", protocol="root", bytes=1 << 20, throughput_Bps=rate
        )
        for i, rate in enumerate(rates_of_copies)
    ]
    return records


def _verdict(records: list[Record]) -> str:
    return next(str(r.status) for r in throughput.judge(records, FLOOR) if r.rse == "XRD1")


def test_copies_that_stalled_on_late_accepts_make_no_endpoint_slow():
    assert _verdict(_round([STALLED] * 12 + [FAST] * 6)) == "pass"  # 12 of 20, as seen in a healthy round


def test_a_throttled_endpoint_is_slow():
    records = _round([THROTTLED] * 18)
    for r in records:
        r.throughput_Bps = THROTTLED
    assert _verdict(records) == "warn"
