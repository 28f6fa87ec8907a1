"""The downtime feed (the inventory's `downtime_feed`, GOCDB) was read when the run started. A feed that could
not be read marks nothing, so the RSEs it would have put in downtime are probed and their findings look like
the sites' own: this check puts that on the status page and in chat, in error, blamed on the feed."""

from urllib.parse import urlsplit

import pytest

from lakeprobe import downtime_feed
from lakeprobe.errors import ProbeError


def test_downtime_feed(run, record):
    record.rse, record.protocol = downtime_feed.SERVICE, "https"
    reading = downtime_feed.Reading.load(run.shared_dir) if run.inventory.downtime_feed else None
    if reading is None:
        pytest.skip("the inventory names no downtime feed")
    record.protocol, record.duration_s = urlsplit(reading.url).scheme, reading.duration_s
    if reading.error_class:
        raise ProbeError(
            reading.error_class,
            f"downtime feed {reading.url} not read ({reading.reason}): the RSEs were probed as if none had declared "
            "a downtime there",
            blame=downtime_feed.SERVICE,
        )
