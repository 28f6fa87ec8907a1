"""What lakeprobe asks of XCache beyond reads: its remove command (`pfc.allow_xrdpfc_command`). Reading
`/xrdpfc_command/remove_file/ <path>` through the cache drops its copy of `<path>`; it answers the read with
an error (root:// `resource temporarily unavailable`, HTTP 500), as the command runs after the answer.
Whoever may read the command's path may evict: sites give it to an administrator's token only.
"""

REMOVE_COMMAND = "/xrdpfc_command/remove_file"


def remove_path(path: str) -> str:
    """The path whose read evicts `path` (the command takes options, none here, before a space)."""
    return f"{REMOVE_COMMAND}/ {path}"
