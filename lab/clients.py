"""The one place where the lab's token clients are declared: who may ask the issuer for which scopes.

Scopes follow the WLCG JWT profile; paths are relative to the storage's base path "/". The probes' clients
reach only the probe area; the embargoed area belongs to the embargo owners' group. Secrets are made at the
first `lab up` and kept (mode 600) in the run directory; they are never printed.
"""

import json
import secrets
from pathlib import Path

from lakeprobe.xcache import REMOVE_COMMAND

# The audience every lab storage element accepts. Tokens for any other audience must be refused.
AUDIENCE = "https://lakeprobe.lab"
# The audience Rucio asks the issuer for when it acts on a storage itself (its reaper deleting): the host names
# of the RSE's davs protocols, as INDIGO IAM takes the `audience` parameter; "localhost" for every lab RSE.
# The lab's storages take it besides the lake's, as a site's storage takes its own host name.
RUCIO_AUDIENCE = "localhost"

# Where probes write, the sub-path the path-restricted client is limited to, and the embargoed area.
PROBE_PREFIX = "/lakeprobe"
PATH_SCOPED_DIR = PROBE_PREFIX + "/scoped"
# The scoped area's last name alone, as a scope path: it names the storage's `/scoped`, not <prefix>/scoped.
SCOPED_TAIL = "/" + PATH_SCOPED_DIR.rsplit("/", 1)[1]
# What the storage grants the probers' group (wlcg.groups), whatever the token's scopes.
GROUP_DIR, PROBE_GROUP = PROBE_PREFIX + "/groups", "/lab/probers"
EMBARGO_DIR = "/embargo"
_P, _E = PROBE_PREFIX, EMBARGO_DIR

# Where Rucio keeps the lake's files (its RSEs' protocol prefix), and the probe scope's part of it.
RUCIO_PREFIX = "/rucio/"
RUCIO_PROBE_AREA = RUCIO_PREFIX + "lakeprobe"
_R = RUCIO_PROBE_AREA

# client id -> scopes, token lifetime in seconds, WLCG groups
CLIENTS = {
    # The probe's token is also its Rucio identity (SUB=probe): it reaches the probe area and the probe
    # scope's files in Rucio's area, nothing else.
    "probe": (
        f"storage.read:{_P} storage.create:{_P} storage.modify:{_P} "
        f"storage.read:{_R} storage.create:{_R} storage.modify:{_R}",
        1200,
        [],
    ),
    "probe-read": (f"storage.read:{_P}", 1200, []),
    "probe-create": (f"storage.read:{_P} storage.create:{_P}", 1200, []),
    # The profile's corners: modify and create alone do not imply read; a token with no storage scope (only
    # the profile's own `wlcg` scope) reaches nothing.
    "probe-modify-only": (f"storage.modify:{_P}", 1200, []),
    "probe-create-only": (f"storage.create:{_P}", 1200, []),
    "probe-no-scope": ("wlcg", 1200, []),
    "probe-es256": (f"storage.read:{_P}", 1200, []),
    # Access by group: its token carries no storage scope, only its group, which the storage maps to a path.
    "probe-group": ("wlcg.groups", 1200, [PROBE_GROUP]),
    "probe-path": (f"storage.read:{PATH_SCOPED_DIR} storage.modify:{PATH_SCOPED_DIR}", 1200, []),
    # Create alone on the same path: a directory inside it, none in a sibling whose name only begins the same.
    "probe-path-create": (f"storage.create:{PATH_SCOPED_DIR}", 1200, []),
    # The same path written with a trailing slash (a directory, as the profile allows), and its last name
    # alone (a scope path counts from the storage's root, so this one reaches nothing of the probe area).
    "probe-path-slash": (f"storage.read:{PATH_SCOPED_DIR}/ storage.modify:{PATH_SCOPED_DIR}/", 1200, []),
    "probe-path-tail": (f"storage.read:{SCOPED_TAIL} storage.modify:{SCOPED_TAIL}", 1200, []),
    "probe-short": (f"storage.read:{_P}", 5, []),  # the expired-token check waits this long at most
    "embargo-owner": (
        f"storage.read:{_E} storage.modify:{_E} storage.read:{_P} storage.modify:{_P}",
        1200,
        ["/lab/embargo-owners"],
    ),
    # The lab's XCache reads from its origin with a credential of its own, read-only (lab/cache.py).
    "xcache": (f"storage.read:{_P}", 86400, []),
    # Who may evict a file from it: XCache's remove command is a read of its path (lakeprobe/xcache.py).
    "cache-evict": (f"storage.read:{REMOVE_COMMAND}", 1200, []),
    # Rucio's own client (its daemons delete with it): the scopes its reaper asks for, exactly, as Rucio
    # makes them from the RSE's prefix.
    "rucio": (f"storage.read:{RUCIO_PREFIX} storage.modify:{RUCIO_PREFIX}", 3600, []),
}

# Clients whose tokens the issuer signs with its ES256 key (the others: RS256), as the profile allows both.
ES256_CLIENTS = {"probe-es256"}

# The clients the probes use (the lab's inventory names these); `rucio` is Rucio's own, `xcache` the cache's.
PROBE_CLIENTS = [c for c in CLIENTS if c not in ("rucio", "xcache")]


def load_or_create(path: Path) -> list[dict]:
    """The clients with their secrets; secrets of clients already known are kept across restarts."""
    known = json.loads(path.read_text()) if path.exists() else {}
    clients = []
    for client_id, (scope, ttl, groups) in CLIENTS.items():
        secret = known.get(client_id) or secrets.token_urlsafe(24)
        alg = "ES256" if client_id in ES256_CLIENTS else "RS256"
        clients.append(
            {"client_id": client_id, "client_secret": secret, "scope": scope, "ttl": ttl, "groups": groups, "alg": alg}
        )
    path.write_text(json.dumps({c["client_id"]: c["client_secret"] for c in clients}))
    path.chmod(0o600)
    return clients
