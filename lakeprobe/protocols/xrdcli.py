"""root:// through one xrdfs/xrdcp process per request, whose environment holds exactly the token given.

XrdCl keeps one login per host for the life of a process and reads the token at login, so a request that
must carry a token of its own (the authorization checks: a read-only token, an expired one, none at all)
runs as a process of its own. Without a token the process offers no token protocol at all
(XrdSecPROTOCOL=unix), so no token file lying around makes a request less anonymous than it claims; an
X.509 proxy is sent only when one is given (gsi), never found by XrdCl in /tmp.
"""

import re
import subprocess
from urllib.parse import quote, urlsplit

from lakeprobe import checksums, child_env
from lakeprobe.checksums import Checksum
from lakeprobe.classify import classify
from lakeprobe.errors import ErrorClass as E
from lakeprobe.errors import ProbeFailure, scrub
from lakeprobe.protocols.base import Entry

TOKEN_VARS = ("BEARER_TOKEN", "BEARER_TOKEN_FILE", "XrdSecTOKEN", "XrdSecPROTOCOL")


def run(
    argv: list[str],
    token: str | None,
    timeout_s: float,
    stdin: bytes = b"",
    refused_is_none: bool = False,
    proxy: str | None = None,
) -> subprocess.CompletedProcess | None:
    """The finished process; with `refused_is_none`, None when the storage refused on authorization
    grounds. Any other failure raises ProbeFailure with its class. With a `proxy` (an X.509 proxy file),
    that proxy over gsi is the only credential, and `token` is not sent."""
    env = child_env.allowed(XRD_CONNECTIONRETRY="1", XRD_REQUESTTIMEOUT=str(max(1, int(timeout_s))))
    if proxy:
        env.update(X509_USER_PROXY=proxy, XrdSecPROTOCOL="gsi")
    elif token:
        env.update(BEARER_TOKEN=token, XrdSecPROTOCOL="ztn")
    else:
        env["XrdSecPROTOCOL"] = "unix"
    try:
        # A session of its own: Ctrl-C at the terminal stops lakeprobe (plugins/interrupt.py), which
        # abandons this call; the signal must not also kill the request and make it look like a failure.
        done = subprocess.run(
            argv, input=stdin, env=env, capture_output=True, timeout=timeout_s, start_new_session=True
        )
    except subprocess.TimeoutExpired:
        raise ProbeFailure(E.TIMEOUT, f"{argv[0]} {argv[-1]}: no answer within {timeout_s:g} s") from None
    if done.returncode == 0:
        return done
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    message = scrub(lines[-1] if lines else f"exit code {done.returncode}")
    error_class = classify(message)
    if refused_is_none and error_class == E.AUTH_DENIED:
        return None
    what = argv[-1] if argv[0] == "xrdcp" else " ".join(argv[2:4])
    raise ProbeFailure(error_class, f"{argv[0]} {what}: {message}")


def server(url: str) -> str:
    return f"root://{urlsplit(url).netloc}"


def path(url: str) -> str:
    return "/" + urlsplit(url).path.lstrip("/")


def plain(url: str) -> str:
    """The URL without its query, for xrdcp: a path's `?` or `#` quoted, its spaces kept (xrdcp decodes no
    %XX: a quoted space would reach the server as `%20`)."""
    return f"{server(url)}/{quote(path(url), safe='/ ')}"


def xrdfs(url: str, token: str | None, timeout_s: float, *command: str) -> str:
    done = run(["xrdfs", server(url), *command], token, timeout_s)
    assert done is not None
    return done.stdout.decode(errors="replace")


def mkdir(url, token, timeout_s):
    try:
        xrdfs(url, token, timeout_s, "mkdir", "-p", path(url))
    except ProbeFailure as e:
        if "file exists" not in str(e).lower():  # XRootD 5.5's `mkdir -p` of a directory that is there
            raise


def put(local, url, token, timeout_s):
    run(["xrdcp", "-s", "-f", local, plain(url)], token, timeout_s)


def get(url, local, token, timeout_s):
    run(["xrdcp", "-s", "-f", plain(url), local], token, timeout_s)


def stat(url, token, timeout_s) -> Entry:
    out = xrdfs(url, token, timeout_s, "stat", path(url))
    size = re.search(r"^Size:\s+(\d+)", out, re.MULTILINE)
    flags = re.search(r"^Flags:.*\((.*)\)", out, re.MULTILINE)
    return Entry(int(size[1]) if size else 0, bool(flags and "IsDir" in flags[1]))


def listdir(url, token, timeout_s) -> list[str]:
    return [line.rsplit("/", 1)[-1] for line in xrdfs(url, token, timeout_s, "ls", path(url)).split()]


def delete(url, token, timeout_s):
    xrdfs(url, token, timeout_s, "rm", path(url))


def refresh(url, token, timeout_s) -> bool:
    xrdfs(url, token, timeout_s, "locate", "-r", path(url))
    return True


def rmdir(url, token, timeout_s):
    xrdfs(url, token, timeout_s, "rmdir", path(url))


def checksum(url, token, timeout_s) -> Checksum:
    answer = xrdfs(url, token, timeout_s, "query", "checksum", f"{path(url)}?cks.type={checksums.PREFERRED}")
    algorithm, _, value = answer.strip().partition(" ")
    return checksums.normalise(algorithm, value)


def copy(source, destination, token, timeout_s):
    run(["xrdcp", "-s", "-f", "--tpc", "only", plain(source), plain(destination)], token, timeout_s)


# -- one request: what the storage lets the token's holder do -----------------------------------------
def read_as(url, token, timeout_s) -> bytes | None:
    done = run(["xrdcp", "-s", "-f", plain(url), "-"], token, timeout_s, refused_is_none=True)
    return done.stdout if done is not None else None


def write_as(url, token, data, timeout_s, overwrite=False) -> bool:
    argv = ["xrdcp", "-s", *(["-f"] if overwrite else []), "-", plain(url)]
    return run(argv, token, timeout_s, data, refused_is_none=True) is not None


def delete_as(url, token, timeout_s) -> bool:
    return run(["xrdfs", server(url), "rm", path(url)], token, timeout_s, refused_is_none=True) is not None


def mkdir_as(url, token, timeout_s) -> bool:
    return run(["xrdfs", server(url), "mkdir", path(url)], token, timeout_s, refused_is_none=True) is not None


def list_as(url, token, timeout_s) -> list[str] | None:
    done = run(["xrdfs", server(url), "ls", path(url)], token, timeout_s, refused_is_none=True)
    return None if done is None else [line.rsplit("/", 1)[-1] for line in done.stdout.decode().split()]


def move_as(url, to_url, token, timeout_s) -> bool:
    argv = ["xrdfs", server(url), "mv", path(url), path(to_url)]
    return run(argv, token, timeout_s, refused_is_none=True) is not None
