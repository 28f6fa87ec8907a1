"""The environment of every process lakeprobe starts (xrdfs and xrdcp, the --per-address agents), built
from an allow-list: a secret the run holds in its environment (a sink's password, the chat webhook, a token
file) reaches no child, and neither does any variable added one day for a new sink, until it is named here.
A child that needs a token gets the one of its call, explicitly."""

import os

NAMES = {
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR",
    "VIRTUAL_ENV", "LD_LIBRARY_PATH",
    # whom the clients trust, and how they reach the network
    "X509_CERT_DIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
}  # fmt: skip
# Client settings (XrdCl's XRD_*, gfal2's and davix's), locale, the interpreter's own: never credentials.
# XrdCl's credential variables (XrdSecPROTOCOL, XrdSecTOKEN) and the WLCG token discovery ones
# (BEARER_TOKEN, BEARER_TOKEN_FILE, XDG_RUNTIME_DIR) are none of these.
PREFIXES = ("XRD_", "GFAL_", "DAVIX_", "LC_", "PYTHON")


def allowed(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in NAMES or k.startswith(PREFIXES)}
    env.update(extra)
    return env
