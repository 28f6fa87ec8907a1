"""Token authorization per RSE x protocol, as the WLCG JWT profile says: each storage scope allows what it
names and nothing more, and a token that is missing, expired, for another audience or from an issuer the
storage does not trust is refused. Letting through what must be refused fails with error class `security`;
refusing what a scope allows fails with `auth_denied`."""

import uuid

from lakeprobe.authz import must_allow, must_refuse
from lakeprobe.errors import NotProbed
from lakeprobe.jwts import unknown_issuer_token
from lakeprobe.state import BESIDE_SCOPED, GROUPS, SCOPED
from lakeprobe.tokens import OTHER_WRONG_AUDIENCE, WRONG_AUDIENCE, several


def _new_name(what: str) -> str:
    return f"{what}-{uuid.uuid4().hex[:8]}.dat"


def test_read_scope(area, token_of):
    token = token_of("probe-read")
    must_allow(area.read(area.readable, token), "reading with storage.read")
    must_refuse(area.write(area.url(_new_name("read-scope")), token, b"x"), "writing with storage.read only")


def test_create_scope(area, token_of):
    token, url = token_of("probe-create"), area.url(_new_name("create-scope"))
    must_allow(area.write(url, token, b"first"), "writing a new file with storage.create")
    must_refuse(area.write(url, token, b"second", overwrite=True), "overwriting with storage.create only")
    must_refuse(area.delete(url, token), "deleting with storage.create only")


def test_modify_scope(area, token_of):
    token, url = token_of("probe"), area.url(_new_name("modify-scope"))
    must_allow(area.write(url, token, b"first"), "writing with storage.modify")
    must_allow(area.write(url, token, b"second", overwrite=True), "overwriting with storage.modify")
    must_allow(area.delete(url, token), "deleting with storage.modify")


def test_modify_without_read(area, token_of):
    """storage.modify does not imply storage.read. Only the refusal is checked: writing with modify alone is
    not, as xrdcp and XrdHttp's DELETE stat the path first, which needs read."""
    token = token_of("probe-modify-only")
    must_refuse(area.read(area.readable, token), "reading with storage.modify only")


def test_create_without_read(area, token_of):
    """storage.create makes a directory and does not imply storage.read (reading is refused)."""
    token = token_of("probe-create-only")
    must_allow(
        area.mkdir(area.url(f"create-only-{uuid.uuid4().hex[:8]}"), token),
        "making a directory with storage.create only",
    )
    must_refuse(area.read(area.readable, token), "reading with storage.create only")


def test_no_scope(area, token_of):
    """A valid token of a trusted issuer that carries no storage scope reaches nothing."""
    token = token_of("probe-no-scope")
    must_refuse(area.read(area.readable, token), "reading with a token without storage scopes")
    must_refuse(area.write(area.url(_new_name("no-scope")), token, b"x"), "writing with a token without storage scopes")


def test_path_scope(area, token_of, run_area):
    """The path-restricted client is scoped to <prefix>/scoped: allowed there, refused next to it."""
    token = token_of("probe-path")
    rse, protocol = area.rse, area.protocol
    scoped = run_area.made(rse, protocol, SCOPED)
    inside = f"{scoped}/{protocol}.dat"
    must_allow(area.write(inside, token, b"x"), f"writing inside the token's path {rse.prefix}/scoped")
    must_allow(area.delete(inside, token), f"deleting inside the token's path {rse.prefix}/scoped")
    must_refuse(area.write(area.url(_new_name("path-scope")), token, b"x"), "writing outside the token's path")
    must_refuse(area.read(area.readable, token), "reading outside the token's path")


def test_path_scope_boundary(area, token_of, run_area):
    """A scope path ends at a slash: the client scoped to <prefix>/scoped reaches nothing in
    <prefix>/scoped-beside, whose name only begins the same (XRootD's SciTokens before 5.6 let it in)."""
    token, rse, protocol = token_of("probe-path"), area.rse, area.protocol
    beside = run_area.made(rse, protocol, BESIDE_SCOPED)
    placed = f"{beside}/{protocol}-readable.dat"
    if not area.write(placed, token_of("probe"), area.data):
        raise NotProbed(f"not tried: the probe token may not write in {rse.prefix}/scoped-beside")
    must_refuse(area.read(placed, token), f"reading {rse.prefix}/scoped-beside with a token for {rse.prefix}/scoped")
    must_refuse(
        area.write(f"{beside}/{_new_name('path-boundary')}", token, b"x"),
        f"writing {rse.prefix}/scoped-beside with a token for {rse.prefix}/scoped",
    )


def test_create_scope_boundary(area, token_of, run_area):
    """storage.create on <prefix>/scoped makes a directory inside it and none in <prefix>/scoped-beside, whose
    name only begins the same: a create scope ends at a slash as read and modify do."""
    token, rse, protocol = token_of("probe-path-create"), area.rse, area.protocol
    scoped, beside = run_area.made(rse, protocol, SCOPED), run_area.made(rse, protocol, BESIDE_SCOPED)
    name = f"create-{uuid.uuid4().hex[:8]}"
    must_allow(area.mkdir(f"{scoped}/{name}", token), f"making a directory in {rse.prefix}/scoped with storage.create")
    must_refuse(
        area.mkdir(f"{beside}/{name}", token),
        f"making a directory in {rse.prefix}/scoped-beside with storage.create on {rse.prefix}/scoped",
    )


def test_path_scope_trailing_slash(area, token_of, run_area):
    """A scope path may end with a slash, naming a directory: the client scoped to `<prefix>/scoped/`
    writes and reads below it as the one scoped to `<prefix>/scoped` does, and nothing next to it."""
    token, rse, protocol = token_of("probe-path-slash"), area.rse, area.protocol
    scoped = run_area.made(rse, protocol, SCOPED)
    inside, where = f"{scoped}/{protocol}-slash.dat", f"{rse.prefix}/scoped/"
    must_allow(area.write(inside, token, b"x"), f"writing inside the token's path {where}")
    must_allow(area.read(inside, token), f"reading inside the token's path {where}")
    must_allow(area.delete(inside, token), f"deleting inside the token's path {where}")
    must_refuse(area.read(area.readable, token), f"reading outside the token's path {where}")


def test_path_scope_from_root(area, token_of, run_area):
    """A scope path counts from the storage's root: a token for `/scoped` (the scoped area's last name
    alone) reaches nothing in `<prefix>/scoped`, as a storage matching a path's tail, or reading scope paths
    from more than one base, would let it."""
    token, rse, protocol = token_of("probe-path-tail"), area.rse, area.protocol
    scoped = run_area.made(rse, protocol, SCOPED)
    placed, where = f"{scoped}/{protocol}-from-root.dat", f"{rse.prefix}/scoped"
    if not area.write(placed, token_of("probe"), area.data):
        raise NotProbed(f"not tried: the probe token may not write in {where}")
    must_refuse(area.read(placed, token), f"reading {where} with a token for /scoped")
    must_refuse(
        area.write(f"{scoped}/{_new_name('from-root')}", token, b"x"), f"writing {where} with a token for /scoped"
    )


def test_group_access(area, token_of, run_area):
    """Access by group (wlcg.groups): the group client's token, with no storage scope, reaches what the
    storage grants its group, <prefix>/groups, and nothing else; a token without the group is refused there."""
    token, rse, protocol = token_of("probe-group"), area.rse, area.protocol
    granted = run_area.made(rse, protocol, GROUPS)
    inside, where = f"{granted}/{protocol}.dat", f"{rse.prefix}/groups"
    must_allow(area.write(inside, token, b"x"), f"writing in {where} with the group's token")
    must_allow(area.read(inside, token), f"reading in {where} with the group's token")
    must_allow(area.delete(inside, token), f"deleting in {where} with the group's token")
    must_refuse(area.read(area.readable, token), f"reading outside {where} with the group's token")
    must_refuse(
        area.write(f"{granted}/{_new_name('no-group')}", token_of("probe-no-scope"), b"x"),
        f"writing in {where} with a token without the group",
    )


def test_no_token(area):
    must_refuse(area.read(area.readable, None), "reading without a token")
    must_refuse(area.write(area.url(_new_name("no-token")), None, b"x"), "writing without a token")


def test_expired_token(area, tokens, needs_client):
    needs_client("probe-short")
    must_refuse(
        area.read(area.readable, tokens.expired_token("probe-short", area.rse.audience)),
        "reading with an expired token",
    )


def test_wrong_audience(area, tokens, needs_client):
    needs_client("probe")
    token = tokens.token("probe", WRONG_AUDIENCE)
    must_refuse(area.read(area.readable, token), "reading with a token for another audience")
    must_refuse(
        area.write(area.url(_new_name("wrong-audience")), token, b"x"), "writing with a token for another audience"
    )


def test_audience_replay(area, tokens, needs_client, other_audience):
    """Where RSEs take tokens for their own audiences (the WLCG profile's recommended form), a token for
    another RSE's audience is refused here: one that takes it takes any token stolen at a neighbour. Only
    for RSEs with an audience of their own, beside another."""
    needs_client("probe")
    token, theirs = tokens.token("probe", other_audience), f"another RSE's audience ({other_audience})"
    must_refuse(area.read(area.readable, token), f"reading with a token for {theirs}")
    must_refuse(area.write(area.url(_new_name("audience-replay")), token, b"x"), f"writing with a token for {theirs}")


def test_several_audiences(area, tokens, needs_client):
    """The profile lets a token name several audiences: one that names this RSE's, second in the list, is
    taken (a storage that reads only one string, or only the first, refuses it); one that names only
    others is refused."""
    needs_client("probe")
    own = area.rse.audience or tokens.audience
    token = tokens.token("probe", several(WRONG_AUDIENCE, own))
    must_allow(area.read(area.readable, token), "reading with a token for several audiences, the RSE's too")
    token = tokens.token("probe", several(WRONG_AUDIENCE, OTHER_WRONG_AUDIENCE))
    must_refuse(area.read(area.readable, token), "reading with a token for several other audiences")
    must_refuse(
        area.write(area.url(_new_name("several-audiences")), token, b"x"),
        "writing with a token for several other audiences",
    )


def test_unknown_issuer(area, tokens):
    scope = f"storage.read:{area.rse.prefix} storage.modify:{area.rse.prefix}"
    token = unknown_issuer_token(area.rse.audience or tokens.audience, scope)
    must_refuse(area.read(area.readable, token), "reading with a token from an unknown issuer")
    must_refuse(
        area.write(area.url(_new_name("unknown-issuer")), token, b"x"), "writing with a token from an unknown issuer"
    )
