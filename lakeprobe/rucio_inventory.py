"""An inventory's RSEs from Rucio (`--rse-expression`): those matching the expression, with their protocols,
their `lakeprobe_*` attributes and their availability."""

import os

from lakeprobe.deadline import call_with_deadline
from lakeprobe.errors import ProbeFailure
from lakeprobe.inventory import Inventory, InventoryError, Quirks, validate
from lakeprobe.protocols import registry

RUCIO_SETTINGS = (
    "prefix",
    "timeout_s",
    "max_concurrent",
    "embargo",
    "gocdb_site",
    "audience",
)  # lakeprobe_<key> attributes


def load_rucio(expression: str, timeout_s: float, base: Inventory | None = None) -> Inventory:
    """RSEs matching a Rucio RSE expression, with their protocols, quirks (`lakeprobe_*` attributes) and
    availability; the rest (issuer, sinks, trust) from `base`, the inventory given beside it. Rucio has
    `timeout_s` for all of it: a server that does not answer must not hold the run's start."""
    if base and base.rucio and base.rucio.config:
        os.environ.setdefault("RUCIO_CONFIG", base.rucio.config)
    from rucio.common.exception import InvalidRSEExpression, RucioException

    try:
        rses = call_with_deadline(lambda: _rses(expression, timeout_s), timeout_s, "listing RSEs from Rucio")
    except InvalidRSEExpression:
        raise InventoryError(f"invalid RSE expression {expression!r}") from None
    except ProbeFailure:  # the deadline
        raise InventoryError(f"cannot list RSEs from Rucio: no answer within {timeout_s:g} s (--timeout)") from None
    except (RucioException, OSError) as e:
        raise InventoryError(f"cannot list RSEs from Rucio: {type(e).__name__}: {e}".splitlines()[0]) from None
    if not rses:
        raise InventoryError(
            f"RSE expression {expression!r} matches no RSE with a protocol lakeprobe knows "
            f"({', '.join(registry.schemes())})"
        )
    data = base.model_dump(exclude={"rses", "source"}) if base else {"lake": "rucio"}
    return validate({**data, "rses": rses, "source": f"rucio:{expression}"}, f"from Rucio ({expression})")


def _rses(expression: str, timeout_s: float) -> dict[str, dict]:
    from rucio.client import Client

    rucio = Client(timeout=timeout_s)
    names = [r["rse"] for r in rucio.list_rses(expression)]
    rses = {}
    for name in names:
        protocols: dict[str, str] = {}
        for p in rucio.get_protocols(name):
            if p["scheme"] in registry.schemes():
                protocols.setdefault(p["scheme"], f"{p['scheme']}://{p['hostname']}:{p['port']}/")
        attributes = rucio.list_rse_attributes(name)
        info = rucio.get_rse(name)
        settings = {k.removeprefix("lakeprobe_"): v for k, v in attributes.items() if k.startswith("lakeprobe_")}
        quirks = {k: v for k, v in settings.items() if k in Quirks.model_fields}
        downtime = (
            ""
            if info.get("availability_read", True) and info.get("availability_write", True)
            else "RSE marked unavailable in Rucio"
        )
        if protocols:
            rses[name] = {
                "protocols": protocols,
                "quirks": quirks,
                "downtime": downtime,
                **{k: v for k, v in settings.items() if k in RUCIO_SETTINGS},
            }
    return rses
