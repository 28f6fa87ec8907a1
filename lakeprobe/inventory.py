"""What to probe: RSEs with their endpoints, quirks and downtimes, from a YAML inventory or from Rucio.

YAML schema (see README.md; ci/inventory.example.yaml is a full example):

    ca_dir: /etc/grid-security/certificates        # optional: X509_CERT_DIR for the probes
    issuer: {url, audience, clients_file, scopes}  # optional: else WLCG Bearer Token Discovery
    rses:
      LAPP:
        protocols: {davs: "davs://host:443/", root: "root://host:1094/"}
        prefix: /lakeprobe                           # probes write only below this path
        timeout_s: 60                                # deadline of every operation on this RSE
        max_concurrent: 2                            # operations at once on this RSE (else --rse-concurrency)
        quirks: {no_checksum: true, tpc_modes: [pull]}
        downtime: "disk server replacement"          # every check is recorded as downtime
        embargo: /escape/embargo                     # area only the embargo owners' token may list or read
"""
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_PREFIX = "/lakeprobe"
PROTOCOLS = ("davs", "root")
TPC_MODES = ("pull", "push", "tpc")  # davs pull, davs push, root:// TPC


class InventoryError(Exception):
    """Bad or missing inventory input; the message is the one line the user sees."""


@dataclass(eq=False)  # an RSE is itself: compared and hashed by identity
class RSE:
    name: str
    protocols: dict[str, str]
    prefix: str = DEFAULT_PREFIX
    timeout_s: float | None = None
    quirks: dict = field(default_factory=dict)
    downtime: str = ""
    max_concurrent: int | None = None  # operations at once on this RSE; else the run's --rse-concurrency
    embargo: str = ""  # the embargoed area; without one the embargo checks skip

    def url(self, protocol: str, path: str) -> str:
        base = self.protocols[protocol]
        path = "/" + path.lstrip("/")
        # root:// wants the absolute path after the host's slash: root://host:port//path
        return base.rstrip("/") + ("/" + path if protocol == "root" else path)

    def tpc_modes(self) -> tuple[str, ...]:
        modes = self.quirks.get("tpc_modes", TPC_MODES)
        return tuple(modes.split(",") if isinstance(modes, str) else modes)  # Rucio attributes are strings


@dataclass
class Inventory:
    rses: dict[str, RSE]
    ca_dir: str = ""
    issuer: dict = field(default_factory=dict)
    services: dict = field(default_factory=dict)  # rucio, influxdb, postgres, broker sections, as given
    source: str = ""

    def select(self, names: list[str]) -> list[RSE]:
        unknown = [n for n in names if n not in self.rses]
        if unknown:
            raise InventoryError(f"unknown RSE {', '.join(unknown)}; known: {', '.join(sorted(self.rses))}")
        return [self.rses[n] for n in (names or sorted(self.rses))]


def default_inventory() -> Path:
    """The embedded lab's inventory, when the lab is up; else a one-line error saying what to give."""
    from lab.layout import Layout
    path = Layout.from_env().inventory
    if not path.exists():
        raise InventoryError("nothing to probe: give --inventory PATH or --rse-expression EXPR, "
                             "or start the embedded lab with `lakeprobe lab up`")
    return path


def load_yaml(path: Path) -> Inventory:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as e:
        raise InventoryError(f"cannot read inventory {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise InventoryError(f"inventory {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rses"), dict) or not data["rses"]:
        raise InventoryError(f"inventory {path} has no `rses:` mapping")
    rses = {}
    for name, spec in data["rses"].items():
        protocols = (spec or {}).get("protocols") or {}
        unknown = set(protocols) - set(PROTOCOLS)
        if not protocols or unknown:
            raise InventoryError(f"inventory {path}: RSE {name} needs protocols among {', '.join(PROTOCOLS)}"
                                 + (f" (not {', '.join(sorted(unknown))})" if unknown else ""))
        rses[name] = RSE(name, protocols, spec.get("prefix", DEFAULT_PREFIX), _number(spec.get("timeout_s")),
                         spec.get("quirks") or {}, spec.get("downtime") or "", _number(spec.get("max_concurrent")),
                         spec.get("embargo") or "")
    services = {k: data[k] for k in ("rucio", "influxdb", "postgres", "broker") if k in data}
    return Inventory(rses, data.get("ca_dir", ""), data.get("issuer") or {}, services, str(path))


def load_rucio(expression: str, base: Inventory | None = None) -> Inventory:
    """RSEs matching a Rucio RSE expression, with their davs/root protocols, quirks and availability."""
    import os
    if base and base.services.get("rucio", {}).get("config"):
        os.environ.setdefault("RUCIO_CONFIG", base.services["rucio"]["config"])
    try:
        from rucio.client import Client
        from rucio.common.exception import InvalidRSEExpression, RucioException
        rucio = Client()
        names = [r["rse"] for r in rucio.list_rses(expression)]
    except InvalidRSEExpression:
        raise InventoryError(f"invalid RSE expression {expression!r}") from None
    except (RucioException, OSError) as e:
        raise InventoryError(f"cannot list RSEs from Rucio: {type(e).__name__}: {e}".splitlines()[0]) from None
    rses = {}
    for name in names:
        protocols = {}
        for p in rucio.get_protocols(name):
            if p["scheme"] in PROTOCOLS:
                protocols.setdefault(p["scheme"], f"{p['scheme']}://{p['hostname']}:{p['port']}/")
        attributes = rucio.list_rse_attributes(name)
        info = rucio.get_rse(name)
        quirks = {key[len("lakeprobe_"):]: value for key, value in attributes.items() if key.startswith("lakeprobe_")}
        downtime = "" if info.get("availability_read", True) and info.get("availability_write", True) \
            else "RSE marked unavailable in Rucio"
        if protocols:
            rses[name] = RSE(name, protocols, quirks.pop("prefix", DEFAULT_PREFIX), _number(quirks.pop("timeout_s", None)),
                             quirks, downtime, _number(quirks.pop("max_concurrent", None)), quirks.pop("embargo", ""))
    if not rses:
        raise InventoryError(f"RSE expression {expression!r} matches no RSE with a davs or root protocol")
    return Inventory(rses, base.ca_dir if base else "", base.issuer if base else {},
                     base.services if base else {}, f"rucio:{expression}")


def _number(value) -> float | None:
    """A number from YAML or from a Rucio attribute (always a string there)."""
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InventoryError(f"{value!r} is not a number") from None
