"""suites/cache against the lab's XCache (lab/cache.py, in front of XRD1) over root:// and davs://: healthy,
with the cache's own faults (its route to the origin cut, its disk full, stopped) and with its origin's
(stopped, corrupting what it stores). Each finding names the cache or the origin, never both."""

import uuid

import pytest

from lab.cache import NAME as CACHE
from lakeprobe.areas import random_file, same_content
from lakeprobe.errors import ProbeFailure
from lakeprobe.storage import Storage

pytestmark = pytest.mark.lab

ORIGIN = "XRD1"
PROTOCOLS = ("davs", "root")
CHECKS = ("cache_read", "cache_hit")


def _round(run_suite, *args):
    proc, records, seconds = run_suite("--timeout", "30", *args, suite="suites/cache")
    return proc, {(r.check, r.protocol): r for r in records}, seconds


def _findings(records: dict) -> dict:
    return {key: (r.error_class, r.blame) for key, r in records.items() if r.status == "fail"}


def test_a_healthy_cache_serves_fresh_files_and_then_its_own_copy(run_suite):
    proc, records, seconds = _round(run_suite)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert set(records) == {(c, p) for c in CHECKS for p in PROTOCOLS}
    assert all(r.status == "pass" and r.rse == CACHE and not r.peer for r in records.values())
    assert "served from the cache's copy" in records[("cache_hit", "root")].message
    assert f"{CACHE} davs" in proc.stdout and "cache" in proc.stdout  # its own row in the summary


@pytest.mark.parametrize(
    "element, kind, expected",
    [
        # The cache cannot reach its origin: it answers, but serves nothing new. Its fault, not the origin's.
        (
            CACHE,
            f"no-route-to-{ORIGIN}",
            {("cache_read", "root"): ("unreachable", CACHE), ("cache_read", "davs"): ("protocol_error", CACHE)},
        ),
        # Its disk is full: it passes reads through and keeps nothing, which only the second read shows.
        (CACHE, "full", {("cache_hit", p): ("not_cached", CACHE) for p in PROTOCOLS}),
        (CACHE, "down", {("cache_read", p): ("unreachable", CACHE) for p in PROTOCOLS}),
        # The origin stores other bytes than it is given: the cache serves them faithfully; the origin's.
        (ORIGIN, "corrupt", {("cache_read", p): ("content_mismatch", ORIGIN) for p in PROTOCOLS}),
    ],
)
def test_each_fault_fails_its_check_blamed_on_the_cache_or_the_origin(element, kind, expected, faulty, run_suite):
    faulty(element, kind)
    proc, records, _ = _round(run_suite)
    assert proc.returncode == 1
    assert _findings(records) == expected, proc.stdout[-3000:]
    assert all(r.status in ("pass", "skip", "fail") for r in records.values())
    if kind == "full":
        assert "free space" in records[("cache_hit", "root")].hint
    if kind.startswith("no-route"):
        assert "cannot fetch from its origin XRD1" in records[("cache_read", "davs")].hint
    if element == ORIGIN:
        assert f"[blame {ORIGIN}]" in proc.stdout and "suites/site --rse XRD1" in records[("cache_read", "root")].hint


def test_an_origin_that_is_down_leaves_the_cache_untried_not_failed(faulty, run_suite):
    faulty(ORIGIN, "down")
    proc, records, _ = _round(run_suite)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert all(r.status == "skip" and ORIGIN in r.message for r in records.values())


def test_a_cached_file_is_still_served_when_the_origin_is_out_of_reach(faulty, inventory, tokens, tmp_path):
    """What the cache holds it serves without its origin; what it does not hold fails with the cache's
    answer, not a hang: shown with the lab's fault, as no round can take a site's origin away."""
    cache = inventory.caches[CACHE].endpoint(inventory.rses[ORIGIN])
    storage = Storage(tokens, 20, [inventory.rses[ORIGIN], cache])
    held, fresh = random_file(4096), random_file(4096)
    # A path of its own: the cache would serve an earlier session's file at the same path, never asking again.
    where = f"/lakeprobe/cache-test-{uuid.uuid4().hex[:12]}"
    origin_dir = inventory.rses[ORIGIN].url("root", where)
    storage.mkdir(origin_dir)
    try:
        for name, local in (("held", held), ("fresh", fresh)):
            storage.put(local, f"{origin_dir}/{name}")
        storage.get(cache.url("root", f"{where}/held"), str(tmp_path / "first"))
        faulty(CACHE, f"no-route-to-{ORIGIN}")
        for protocol in PROTOCOLS:
            back = tmp_path / f"again-{protocol}"
            storage.get(cache.url(protocol, f"{where}/held"), str(back))
            assert same_content(str(back), held)
            with pytest.raises(ProbeFailure, match="refused|HTTP 5"):
                storage.get(cache.url(protocol, f"{where}/fresh"), str(tmp_path / "x"))
    finally:
        storage.remove_tree(origin_dir)


def test_a_site_admin_probes_the_cache_alone_by_its_name(run_suite):
    proc, records, _ = _round(run_suite, "--rse", CACHE)
    assert proc.returncode == 0 and {r.rse for r in records.values()} == {CACHE}, proc.stdout[-2000:]
    proc, records, _ = _round(run_suite, "--rse", "XRD2")
    assert proc.returncode == 0 and not records  # another site's admin: the cache is not theirs
