"""A host name for the lab by both address families: the lab's servers listen on IPv4 and IPv6, but
`localhost` resolves to 127.0.0.1 only here, so `lab up` gives /etc/hosts a name that resolves to 127.0.0.1
and ::1, for an inventory that names the lab by both families."""

from pathlib import Path

DUAL_STACK_HOST = "lakeprobe-dual"
HOSTS = Path("/etc/hosts")
LINES = (f"::1 {DUAL_STACK_HOST}", f"127.0.0.1 {DUAL_STACK_HOST}")


def ensure():
    """Adds the lines /etc/hosts lacks (idempotent; nothing else in it is changed)."""
    present = {" ".join(line.split("#")[0].split()) for line in HOSTS.read_text().splitlines()}
    missing = [line for line in LINES if line not in present]
    if missing:
        with HOSTS.open("a") as f:
            f.write("".join(f"{line}  # lakeprobe lab: a name by both address families\n" for line in missing))
