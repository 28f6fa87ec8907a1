"""Embargoed data per RSE x protocol: only the owning group's token lists or reads the embargoed area,
every other token (and none) is refused, and publishing a file (moving it to the open area) makes it
readable to others. The area is the RSE's `embargo` path; without one these checks skip."""

import pytest

from lakeprobe import verify
from lakeprobe.authz import must_allow, must_refuse
from lakeprobe.errors import NotProbed


@pytest.fixture
def embargo(area, request) -> str:
    if not area.rse.embargo:
        pytest.skip("the inventory names no embargoed area for this RSE")
    return area.rse.url(area.protocol, area.rse.embargo)


def _needs_embargoed_file(area):
    if not area.embargoed:
        raise NotProbed("not tried: needs the owners' embargoed file, which embargo_owner did not write")


def test_embargo_owner(area, embargo, token_of, run, record):
    token = token_of("embargo-owner")
    url = f"{embargo}/{run.embargo_prefix}{area.protocol}.dat"
    must_allow(area.write(url, token, area.data), "the owners writing in the embargoed area")
    area.embargoed = url
    listed = area.listing(embargo, token)
    must_allow(listed, "the owners listing the embargoed area")
    must_allow(area.read(url, token), "the owners reading their embargoed file")
    verify.listed(record, listed.value, url, lambda: True, "the owners' file in the embargoed area")


def test_embargo_refused_to_others(area, embargo, token_of):
    _needs_embargoed_file(area)
    for client in ("probe", "probe-read", None):
        token = token_of(client) if client else None
        who = f"the `{client}` token" if client else "a request without a token"
        must_refuse(area.listing(embargo, token), f"{who} listing the embargoed area")
        must_refuse(area.read(area.embargoed, token), f"{who} reading an embargoed file")


def test_embargo_publish(area, embargo, token_of):
    _needs_embargoed_file(area)
    published = area.url("published.dat")
    must_allow(
        area.move(area.embargoed, published, token_of("embargo-owner")), "the owners moving their file to the open area"
    )
    area.embargoed = ""
    must_allow(area.read(published, token_of("probe-read")), "others reading a published file")
