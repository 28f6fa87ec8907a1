"""Which checks share an xdist worker (plugins/scheduling.py): a chain's steps, an endpoint's token and
embargo checks, the copies from one source endpoint; node ids stay as pytest can take them back."""

from lakeprobe.ids import CheckId
from plugins.scheduling import group_of


def test_groups():
    site = "suites/site"
    assert (
        group_of(f"{site}/test_storage.py::test_upload[XRD1-davs]")
        == group_of(f"{site}/test_storage.py::test_connection[XRD1-davs]")
        == f"{site}/test_storage.py[XRD1-davs]"
    )
    assert group_of(f"{site}/test_storage.py::test_upload[XRD1-root]") != group_of(
        f"{site}/test_storage.py::test_upload[XRD1-davs]"
    )
    assert group_of(f"{site}/test_embargo.py::test_embargo_owner[XRD1-davs]") == group_of(
        f"{site}/test_authz.py::test_no_token[XRD1-davs]"
    )
    # RSE names may hold dashes: copies are grouped by source and protocol all the same
    a = group_of(f"{site}/test_tpc.py::test_copy[CNAF-STORM>DESY-DCACHE-davs-pull]")
    b = group_of(f"{site}/test_tpc.py::test_copy[CNAF-STORM>XRD1-davs-push]")
    assert a == b == f"{site}/copies-from[CNAF-STORM-davs]"
    assert group_of(f"{site}/test_tpc.py::test_copy[XRD1>XRD2-root-tpc]") == f"{site}/copies-from[XRD1-root]"
    assert group_of("suites/services/test_issuer.py::test_issuer_jwks") == "suites/services/test_issuer.py"


def test_xdist_still_asks_the_private_method_the_grouping_overrides():
    """plugins/scheduling.py overrides LoadScopeScheduling._split_scope, which is not xdist's public API
    (pyproject pins pytest-xdist<4): if xdist stops calling it, every check would be scheduled alone and a
    chain's steps would run on different workers. This fails loudly first."""
    import inspect

    from xdist.scheduler import LoadScopeScheduling

    assert "self._split_scope(" in inspect.getsource(LoadScopeScheduling)


def test_check_ids_read_back_as_they_were_made_with_dashes_in_rse_names():
    made = [
        CheckId("CERN-PROD", "davs"),
        CheckId("CERN-PROD", "root", "ipv6"),
        CheckId("DESY-DCACHE", "davs", source="CNAF-STORM", mode="pull"),
    ]
    assert [CheckId.parse(str(c)) for c in made] == made
    assert [str(c) for c in made] == ["CERN-PROD-davs", "CERN-PROD-root-ipv6", "CNAF-STORM>DESY-DCACHE-davs-pull"]
