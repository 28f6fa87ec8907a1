"""The site suite against an XRootD cluster (lab/cluster.py: a manager redirecting to two data servers),
over root:// and davs://, with copies to and from XRD1: healthy, without token enforcement on any node,
and with one data server stopped. What it says there today, gaps of XRootD 5.5's clustering included."""

import pytest

from tests.helpers import rse_entry
from tests.test_detection import LETS_THROUGH  # with token enforcement off, on a single lab RSE

pytestmark = pytest.mark.lab

INDEX = 19  # clear of the lab's RSEs and of the indexes other tests start (15 to 18)
PROTOCOLS = ("davs", "root")
# Known gaps of a healthy cluster, not findings of a broken one (both pass when luck has it):
# - over davs a listing through the manager is answered by one data server (`ofs.dirlist remote`), which
#   does not hold a file the manager placed on the other one: warn, saying so (root:// lists as `xrdfs ls`
#   does, every data server, and passes);
LISTED_BY_ONE = ("list", "embargo_owner")
# - create_scope over davs: the data server refuses the overwrite of the file just written with
#   storage.create (right), and from then on the manager finds no server holding it, so the DELETE it
#   must refuse is answered 404 (root:// is refused at the manager, which authorizes rm before locating).
NO_SERVER_AFTER_REFUSED_OVERWRITE = "HTTP 404 No servers are available to read the file"
# - embargo_publish: the read of the file just moved to the open area was answered not_found through the
#   manager in 2 of 5 clean-clone CI runs (protocol not recorded; not reproduced by hand). Suspected: the
#   manager remembering the destination path as on no server (`cms.fxhold`) from a lookup before the move.
MOVED_NOT_FOUND_YET = "embargo_publish"


def _round(cluster, inventory_with, run_suite, *args):
    lake = inventory_with({cluster.name: rse_entry(cluster.davs_url, cluster.root_url)})
    return run_suite("--inventory", lake, "--rse", cluster.name, "--tpc-peer", "XRD1", "--timeout", "30", *args)


def _own(records, cluster):
    """The cluster's own checks (no copies), by (check, protocol)."""
    return {(r.check, r.protocol): r for r in records if r.rse == cluster.name and not r.peer}


def _assert_known_gaps(own: dict, checked: set):
    """The checks of `own` not in `checked` pass, but for the known gaps of a cluster above."""
    for (check, protocol), r in own.items():
        if check in checked:
            continue
        if check in LISTED_BY_ONE and protocol == "davs" and r.status != "pass":
            assert (r.status, r.error_class) == ("warn", "not_found") and "one server of a cluster" in r.message
        elif (check, protocol) == ("create_scope", "davs") and r.status != "pass":
            assert (r.status, r.error_class) == ("fail", "not_found") and NO_SERVER_AFTER_REFUSED_OVERWRITE in r.message
        elif check == MOVED_NOT_FOUND_YET and r.status != "pass":
            assert (r.status, r.error_class) == ("fail", "not_found"), r.message
        else:
            assert r.status == "pass", r


def test_a_healthy_cluster_passes_but_for_its_known_gaps(extra_cluster, inventory_with, run_suite):
    cluster = extra_cluster(INDEX)
    proc, records, _ = _round(cluster, inventory_with, run_suite)
    own = _own(records, cluster)
    assert {p for _, p in own} == set(PROTOCOLS), proc.stdout[-3000:]
    _assert_known_gaps(own, checked=set())
    copies = [r for r in records if r.peer]
    assert {(r.rse, r.peer) for r in copies} == {(cluster.name, "XRD1"), ("XRD1", cluster.name)}
    assert {r.status for r in copies} == {"pass"}, proc.stdout[-3000:]
    # The end of the round removes the run's files from both data servers (root:// first: it lists every
    # data server and has the manager look anew for what it cached as nowhere).
    assert "cleanup: this run's directories removed from 2 RSEs" in proc.stdout, proc.stdout[-2000:]
    run = records[0].run_id
    assert not [p for server in cluster.servers for p in (server.dir / "data").rglob(f"*{run}*")]


def test_a_cluster_without_token_enforcement_fails_the_token_checks(extra_cluster, inventory_with, run_suite):
    cluster = extra_cluster(INDEX, fault="no-auth")
    proc, records, _ = _round(cluster, inventory_with, run_suite)
    own = _own(records, cluster)
    for check in LETS_THROUGH:
        for protocol in PROTOCOLS:
            assert (own[check, protocol].status, own[check, protocol].error_class) == ("fail", "security")
        # Over davs the finding names the door and the data server that let it through.
        assert f"(via localhost:{cluster.https_port} -> 127.0.0.1:" in own[check, "davs"].message, check
    _assert_known_gaps(own, checked=LETS_THROUGH)
    # As into a single lab RSE without tokens: it has none to hand its root:// TPC agent, the source refuses.
    into = {r.check: r for r in records if r.peer == cluster.name}
    assert (into["root_tpc"].status, into["root_tpc"].error_class) == ("fail", "auth_denied")
    assert {r.status for c, r in into.items() if c != "root_tpc"} == {"pass"}, proc.stdout[-3000:]
    assert {r.status for r in records if r.rse == cluster.name and r.peer} == {"pass"}


def test_a_stopped_data_server_fails_every_mkdir_through_the_manager(extra_cluster, inventory_with, run_suite):
    """The manager forwards mkdir to every data server (`ofs.forward`), one of which is gone: davs's MKCOL is
    answered 501 at once, root://'s mkdir waits past the deadline.
    Everything after it is skipped, naming that first failure. Only the chain and copies: the token checks'
    area is a mkdir too, and each root:// one would cost a deadline."""
    cluster = extra_cluster(INDEX, fault="server-down")
    proc, records, _ = _round(cluster, inventory_with, run_suite, "-k", "storage or tpc")
    own = _own(records, cluster)
    assert (own["mkdir", "davs"].status, own["mkdir", "davs"].error_class) == ("fail", "protocol_error")
    assert "HTTP 501" in own["mkdir", "davs"].message
    assert (own["mkdir", "root"].status, own["mkdir", "root"].error_class) == ("fail", "timeout")
    reached = {"connection", "connection_ipv4"}  # the manager itself answers
    assert {r.status for key, r in own.items() if key[0] in reached} == {"pass"}
    assert {r.status for key, r in own.items() if key[0] not in reached | {"mkdir"}} == {"skip"}
    # Copies into it fail at its mkdir over davs, and are skipped over root:// (its mkdir timed out).
    into = {r.check: r for r in records if r.peer == cluster.name}
    assert {c: (r.status, r.error_class) for c, r in into.items()} == {
        "davs_pull": ("fail", "protocol_error"),
        "davs_push": ("fail", "protocol_error"),
        "root_tpc": ("skip", ""),
    }, proc.stdout[-3000:]
    assert {r.status for r in records if r.rse == cluster.name and r.peer} == {"skip"}


def test_data_servers_that_corrupt_what_they_write_fail_the_uploads_not_the_manager(
    extra_cluster, inventory_with, run_suite
):
    """Every data server flips a bit of each block it writes: the upload's checksum differs over both
    protocols, and so do copies into the cluster, blamed on it; the manager's connection passes."""
    cluster = extra_cluster(INDEX, fault="corrupt")
    proc, records, _ = _round(cluster, inventory_with, run_suite, "-k", "storage or tpc")
    own = _own(records, cluster)
    for protocol in PROTOCOLS:
        assert (own["upload", protocol].status, own["upload", protocol].error_class) == ("fail", "checksum_mismatch")
        assert own["connection", protocol].status == "pass"
    into = {r.check: r for r in records if r.peer == cluster.name}
    assert {c: (r.status, r.error_class, r.blame) for c, r in into.items()} == {
        c: ("fail", "checksum_mismatch", cluster.name) for c in ("davs_pull", "davs_push", "root_tpc")
    }, proc.stdout[-3000:]


def test_a_cluster_with_no_route_to_its_peer_fails_only_the_copies_it_makes(extra_cluster, inventory_with, run_suite):
    """No node of the cluster can connect to XRD1 (as a firewall between the sites): the copies the cluster's
    data servers make with XRD1 fail, blamed on the pair, and everything else passes."""
    cluster = extra_cluster(INDEX, fault="no-route-to-XRD1")
    proc, records, _ = _round(cluster, inventory_with, run_suite, "-k", "storage or tpc")
    failed = {(r.check, r.rse, r.peer): r.blame for r in records if r.status == "fail"}
    name = cluster.name
    assert failed == {
        ("davs_pull", "XRD1", name): f"XRD1->{name}",
        ("root_tpc", "XRD1", name): f"XRD1->{name}",
        ("davs_push", name, "XRD1"): f"{name}->XRD1",
    }, proc.stdout[-3000:]
    _assert_known_gaps(_own(records, cluster), checked=set())
