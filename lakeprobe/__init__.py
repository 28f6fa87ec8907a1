"""lakeprobe: continuous functional testing of scientific data lakes."""
import os

__version__ = "0.1.0"

# XrdCl reads these once, at its first use. Its defaults retry a refused connection for minutes, so a
# stopped endpoint would look like a hanging one; one attempt tells "refused" from "silent" at once.
for _name, _value in (("XRD_CONNECTIONRETRY", "1"), ("XRD_CONNECTIONWINDOW", "15"), ("XRD_REQUESTTIMEOUT", "60")):
    os.environ.setdefault(_name, _value)
