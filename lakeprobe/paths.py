"""Where lakeprobe keeps things on this machine, when the user does not say.

- results: `results/` of the checkout (or LAKEPROBE_RESULTS_DIR);
- built helpers (the address-family library of `--per-address`): $XDG_CACHE_HOME/lakeprobe, else
  ~/.cache/lakeprobe;
- the embedded lab's run directory: LAKEPROBE_LAB_DIR, else `.lab/` of the checkout; its inventory is
  `<lab dir>/inventory.yaml`, written by `lakeprobe lab up` and removed by `lakeprobe lab down`. The
  library finds the lab only through that file: it never imports the lab.
"""

import hashlib
import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def results_dir() -> Path:
    return Path(os.environ.get("LAKEPROBE_RESULTS_DIR") or REPO / "results")


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lakeprobe"


def lab_dir() -> Path:
    return Path(os.environ.get("LAKEPROBE_LAB_DIR") or default_lab_dir()).resolve()


def default_lab_dir() -> Path:
    """REPO/.lab; but XRootD runs as the unprivileged xrootd user, which must be able to walk down to its
    files, so a checkout under a private directory (such as /root) keeps its lab in /var/tmp instead."""
    if walkable(REPO):
        return REPO / ".lab"
    return Path("/var/tmp") / f"lakeprobe-lab-{hashlib.sha1(str(REPO).encode()).hexdigest()[:8]}"


def walkable(path: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents])


def lab_inventory() -> Path:
    return lab_dir() / "inventory.yaml"
