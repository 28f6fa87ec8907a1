"""suites/cache against the lab's XCache (lab/cache.py, in front of XRD1) over root:// and davs://: healthy,
with the cache's own faults (its route to the origin cut, its disk full, stopped, its remove command off,
XRootD's client defaults towards its origin), with its origin's (stopped, corrupting what it stores), and
with an inventory that claims what the cache does not do. Each finding names the cache or the origin, never
both."""

import uuid

import pytest
import yaml

from lab.cache import NAME as CACHE
from lakeprobe.areas import random_file, same_content
from lakeprobe.errors import ProbeFailure
from lakeprobe.storage import Storage
from tests.helpers import lakeprobe_cli

pytestmark = pytest.mark.lab

ORIGIN = "XRD1"
PROTOCOLS = ("davs", "root")
CHECKS = ("cache_read", "cache_hit", "cache_consistency", "cache_evict", "cache_origin_down")


@pytest.fixture
def origin_lost(lab):
    """An origin fault for one test, and a cache restarted after it: a cache that gave up on its origin may
    go on failing reads over the connections that did, the origin back (`stuck-after-outage`), and the next
    test would meet that."""
    lost = []

    def inject(kind: str):
        lab.fault(ORIGIN, kind)
        lost.append(kind)

    yield inject
    if lost:
        lab.heal(ORIGIN)
        lab.heal(CACHE)


def _round(run_suite, *args, inventory=None, results=None):
    proc, records, seconds = run_suite(
        "--timeout", "30", *args, suite="suites/cache", inventory=inventory, results=results
    )
    return proc, {(r.check, r.protocol): r for r in records}, seconds


def _findings(records: dict) -> dict:
    return {key: (r.error_class, r.blame) for key, r in records.items() if r.status == "fail"}


def test_a_healthy_cache_serves_fresh_files_then_its_own_copy_and_evicts_on_request(run_suite, lab_env, tmp_path):
    proc, records, seconds = _round(run_suite, results=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert set(records) == {(c, p) for c in CHECKS for p in PROTOCOLS}
    assert all(r.rse == CACHE and not r.peer for r in records.values())
    passed = {c for (c, _), r in records.items() if r.status == "pass"}
    assert passed == {"cache_read", "cache_hit", "cache_evict"}, proc.stdout[-3000:]
    assert "served from the cache's copy" in records[("cache_hit", "root")].message
    # XCache never asks its origin again; a round with its origin answering has nothing to show of it down.
    assert "never asks its origin again" in records[("cache_consistency", "davs")].message
    assert "the origin XRD1 answers" in records[("cache_origin_down", "root")].message
    assert f"{CACHE} davs" in proc.stdout and "cache" in proc.stdout  # its own row in the summary
    made = lakeprobe_cli("report", "--results-dir", str(tmp_path), env=lab_env)
    assert made.returncode == 0, made.stderr
    page = (tmp_path / "status.html").read_text()  # the status page: a table of its own
    grid = page[page.index('<table id="cache-grid">') :].split("</table>", 1)[0]
    assert grid.count(f'data-rse="{CACHE}"') == len(CHECKS) * len(PROTOCOLS)
    assert 'data-check="cache_evict" title="' in grid and "<th>CACHE1 root</th>" in grid


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
        # It takes the remove command as a read of a file it cannot find, and keeps serving its copy.
        (CACHE, "no-evict", {("cache_evict", p): ("stale_copy", CACHE) for p in PROTOCOLS}),
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
    if kind == "no-evict":
        assert "pfc.allow_xrdpfc_command" in records[("cache_evict", "davs")].hint
    if kind.startswith("no-route"):
        assert "cannot fetch from its origin XRD1" in records[("cache_read", "davs")].hint
    if element == ORIGIN:
        assert f"[blame {ORIGIN}]" in proc.stdout and "suites/site --rse XRD1" in records[("cache_read", "root")].hint


@pytest.mark.parametrize(
    "kind, timeout, says",
    [
        ("down", "30", "the origin's fault"),  # refused: what the cache does not hold fails at once
        ("hang", "10", "its origin hangs"),  # it took the connection: a read waits on it, as any reader's
    ],
)
def test_with_its_origin_lost_the_cache_serves_what_it_holds(kind, timeout, says, origin_lost, lab, run_suite):
    _round(run_suite)  # a round with the origin up: the cache holds its held file after it
    origin_lost(kind)
    proc, records, _ = _round(run_suite, "--timeout", timeout)
    assert proc.returncode == 0, proc.stdout[-3000:]
    lost = {p: records.pop(("cache_origin_down", p)) for p in PROTOCOLS}
    assert all(r.status == "pass" and says in r.message for r in lost.values()), proc.stdout[-3000:]
    assert all(r.status == "skip" and ORIGIN in r.message for r in records.values())  # the rest: untried
    lab.heal(ORIGIN)  # the origin back, the same cache serves fresh files again at once (its error window)
    proc, records, _ = _round(run_suite, "-k", "cache_read")
    assert proc.returncode == 0 and len(records) == len(PROTOCOLS), proc.stdout[-3000:]


def test_a_cache_that_keeps_readers_waiting_on_its_lost_origin_fails_origin_down(faulty, origin_lost, run_suite):
    faulty(CACHE, "patient")
    _round(run_suite)
    origin_lost("down")
    proc, records, _ = _round(run_suite, "--timeout", "15", "-k", "origin_down")
    assert proc.returncode == 1
    assert _findings(records) == {("cache_origin_down", p): ("timeout", CACHE) for p in PROTOCOLS}
    assert all("to the deadline" in r.message for r in records.values()), proc.stdout[-3000:]
    assert "pss.setopt ConnectTimeout" in records[("cache_origin_down", "root")].hint


def test_a_cache_that_goes_on_failing_after_its_origin_is_back_fails_cache_read(faulty, origin_lost, lab, run_suite):
    """Once it gave up on its lost origin, XCache fails reads over the same connections for XRootD's
    client's error window (1800 s unless set): the origin back, cache_read says so, blamed on the cache."""
    faulty(CACHE, "stuck-after-outage")
    _round(run_suite)
    origin_lost("down")
    _round(run_suite, "-k", "origin_down")
    lab.heal(ORIGIN)
    proc, records, _ = _round(run_suite, "-k", "cache_read")
    assert proc.returncode == 1
    assert {r.blame for r in records.values() if r.status == "fail"} == {CACHE}, proc.stdout[-3000:]


def test_a_cache_held_to_what_the_inventory_claims_fails_for_each_claim(lab, run_suite, tmp_path):
    """Declared to ask its origin again after 1 s (XCache never does), with an evict client the cache does
    not let evict (the probe's own): cache_consistency and cache_evict fail, the rest still pass."""
    data = yaml.safe_load(lab.layout.inventory.read_text())
    data["caches"][CACHE].update(revalidate_s=1, evict_client="probe")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(data))
    proc, records, _ = _round(run_suite, inventory=str(inventory))
    assert proc.returncode == 1
    expected = {("cache_consistency", p): ("stale_copy", CACHE) for p in PROTOCOLS}
    expected |= {("cache_evict", p): ("stale_copy", CACHE) for p in PROTOCOLS}
    assert _findings(records) == expected, proc.stdout[-3000:]
    assert records[("cache_hit", "root")].status == "pass"
    assert "refused, on authorization grounds" in records[("cache_evict", "davs")].message
    assert "declare none" in records[("cache_consistency", "root")].hint


def test_a_cached_file_is_still_served_when_the_origin_is_out_of_reach(faulty, inventory, tokens, tmp_path):
    """What the cache holds it serves with its route to the origin cut; what it does not hold fails with
    the cache's answer, not a hang. No round shows this case: the probe still reaches the origin, and
    cache_origin_down is not tried."""
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
