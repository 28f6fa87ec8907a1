"""A URL as the inventory and the options take one: of a known scheme, naming a host, with a valid port and
no credentials (secrets come from the environment)."""

from urllib.parse import urlsplit


def plain_url(value: str, schemes: tuple[str, ...], user_ok: bool = False) -> str:
    """`value` when it is a URL of one of `schemes`, else ValueError in words for the user; a database URL
    may name its user (`user_ok`), never a password."""
    if not isinstance(value, str) or "://" not in value:
        raise ValueError(f"{value!r} is not a URL (write {schemes[0]}://host:port/)")
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise ValueError(f"{parts.scheme}:// is not {' or '.join(s + '://' for s in schemes)}")
    if parts.password or (parts.username and not user_ok):
        raise ValueError("must not carry credentials: give them in the environment (README, Sinks and Tokens)")
    if not parts.hostname:
        raise ValueError(f"{value!r} names no host")
    try:
        parts.port  # noqa: B018  (raises for a port that is not a number or out of range)
    except ValueError:
        raise ValueError(f"{value!r} has an invalid port") from None
    return value
