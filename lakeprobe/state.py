"""One run's state: what it probes and with which options, its id, the directory its processes share, the
tokens fetched for it and what the connection checks found. Built once, by the process that starts the
run, and handed whole to pytest-xdist workers (plugins/workers.py)."""

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from lakeprobe.breaker import Breaker
from lakeprobe.errors import InDowntime
from lakeprobe.inventory import RSE, Cache, Inventory, InventoryError
from lakeprobe.options import RunOptions
from lakeprobe.protocols import registry
from lakeprobe.records import run_started
from lakeprobe.slots import Slots

ROTATION_ROUNDS = 24  # with --tpc-pairs rotate, every ordered pair is copied at least once in this many rounds

# Where below an RSE's prefix runs make their directories: the prefix itself; `scoped`, the path-scoped
# client's area; `scoped-beside`, whose name extends it without a slash (the scope-boundary check's); and
# `groups`, which the storage grants to the group client's group (wlcg.groups), not to any scope.
SCOPED, BESIDE_SCOPED, GROUPS = "scoped", "scoped-beside", "groups"
RUN_AREAS = ("", SCOPED, BESIDE_SCOPED, GROUPS)


@dataclass
class Selection:
    inventory: Inventory
    rses: list[RSE]
    protocols: tuple[str, ...]
    tpc_peers: list[str] = field(default_factory=list)
    rotation: tuple[int, int] | None = None  # (hour of the round, peers per round) with --tpc-pairs rotate
    caches: list[Cache] = field(default_factory=list)

    @classmethod
    def of(cls, inventory: Inventory, options: RunOptions, run_id: str = "") -> "Selection":
        rses = inventory.select(options.rse)
        inventory.select(options.tpc_peer)  # unknown peers are an error too
        if caches := [p for p in options.tpc_peer if p in inventory.caches]:
            raise InventoryError(f"--tpc-peer {caches[0]}: a cache takes no third-party copies")
        rotation = None
        if options.tpc_pairs == "rotate":
            started = run_started(run_id) or time.time()
            rotation = (int(started // 3600), options.rotate_peers)
        protocols = tuple(options.protocol) or registry.schemes()
        return cls(inventory, rses, protocols, options.tpc_peer, rotation, inventory.select_caches(options.rse))

    def protocols_of(self, rse: RSE) -> list[str]:
        return [p for p in self.protocols if p in rse.protocols]

    def tpc_pairs(self) -> list[tuple[RSE, RSE]]:
        """Every ordered pair among the selected RSEs; with --rse, the chosen ones and their peers both ways;
        with a rotation, this round's share of them (rotated_pairs)."""
        if self.rotation:
            chosen = {r.name for r in self.rses}
            everyone = sorted(self.inventory.rses)
            return [
                (self.inventory.rses[a], self.inventory.rses[b])
                for a, b in rotated_pairs(everyone, *self.rotation)
                if a in chosen or b in chosen
            ]
        if not self.tpc_peers and len(self.rses) == len(self.inventory.rses):
            return [(a, b) for a in self.rses for b in self.rses if a is not b]
        chosen = {r.name for r in self.rses}
        peers = self.tpc_peers or [n for n in self.inventory.rses if n not in chosen]
        pairs: list[tuple[RSE, RSE]] = []
        for rse in self.rses:
            for name in peers:
                if name != rse.name:
                    peer = self.inventory.rses[name]
                    pairs += [(rse, peer), (peer, rse)]
        return list(dict.fromkeys(pairs))

    def copies(self) -> list[tuple[RSE, RSE, str, str]]:
        """(source, destination, protocol, mode) for every copy of the round, in the protocols both ends have."""
        return [
            (a, b, protocol, mode)
            for a, b in self.tpc_pairs()
            for protocol in self.protocols
            if protocol in a.protocols and protocol in b.protocols
            for mode in registry.get(protocol).copy_modes
        ]

    def endpoints(self) -> list[tuple[RSE, str]]:
        """Every (RSE, protocol) the round touches: the selected RSEs' and their copy peers'."""
        found = [(rse, p) for rse in self.rses for p in self.protocols_of(rse)]
        found += [(end, protocol) for a, b, protocol, _ in self.copies() for end in (a, b)]
        return list(dict.fromkeys(found))


def rotated_pairs(names: list[str], hour: int, peers: int) -> list[tuple[str, str]]:
    """This hour's ordered pairs: each RSE copies to the RSEs `d` places after it (and so from those `d` places
    before it) for a few offsets `d`, at least `peers` of them, and enough that the offsets of
    ROTATION_ROUNDS consecutive hours cover all N-1: every ordered pair within ROTATION_ROUNDS rounds. The
    pairs depend on the hour alone, so every shard of a round agrees."""
    n = len(names)
    if n < 2:
        return []
    per_round = max(peers, -(-(n - 1) // ROTATION_ROUNDS))
    if per_round >= n - 1:
        offsets = set(range(1, n))
    else:
        offsets = {1 + (hour * per_round + j) % (n - 1) for j in range(per_round)}
    return [(names[i], names[(i + d) % n]) for d in sorted(offsets) for i in range(n)]


@dataclass
class RunState:
    run_id: str
    run_kind: str  # "round" or "adhoc" (lakeprobe.records.RUN_KINDS)
    options: RunOptions
    selection: Selection
    shared_dir: Path  # what the processes of the run share: operation slots, broken endpoints, waits
    shard: tuple[int, int] | None = None  # (K, N): this process's part of a round spread over N machines
    tokens: dict = field(default_factory=dict)  # exported by the TokenProvider, for the workers
    preflight: dict = field(default_factory=dict)  # "RSE|protocol" -> connection result

    @property
    def inventory(self) -> Inventory:
        return self.selection.inventory

    @property
    def lake(self) -> str:
        return self.inventory.lake

    @property
    def results_dir(self) -> Path:
        return Path(self.options.results_dir)

    @property
    def shard_dir(self) -> str:
        """Below the run's directory on each RSE, where this shard writes: shards end at different times, and
        each removes only its own."""
        return f"shard-{self.shard[0]}" if self.shard else ""

    @property
    def shard_label(self) -> str:
        return f"{self.shard[0]}/{self.shard[1]}" if self.shard else ""

    def area(self, rse: RSE, below: str = "") -> str:
        """Where this run (this shard) writes on an RSE: `<prefix>/<run id>[/shard-K]`, or the same below one
        of the other RUN_AREAS."""
        return "/".join(p for p in (rse.prefix, below, self.run_id, self.shard_dir) if p)

    @property
    def embargo_prefix(self) -> str:
        """How the names of this run's (shard's) files in an embargoed area begin."""
        return f"lakeprobe-{self.run_id}{'-' + self.shard_dir if self.shard_dir else ''}-"

    @property
    def breaker(self) -> Breaker:
        return Breaker(self.shared_dir / "broken")

    @property
    def slots(self) -> Slots:
        default = self.options.rse_concurrency
        return Slots(
            self.shared_dir / "slots", {r.name: int(r.max_concurrent or default) for r in self.inventory.rses.values()}
        )

    @property
    def board_dir(self) -> Path:
        return self.shared_dir / "waiting"

    @property
    def made_dir(self) -> Path:
        """One file per endpoint where a run directory was made: the cleanup looks only there."""
        return self.shared_dir / "made"

    def require(self, *ends: tuple[RSE, str]):
        """Raises InDowntime or NotProbed unless every (RSE, protocol) can be probed this round: a declared
        downtime first (it says more than anything else), then an endpoint broken earlier this round."""
        for rse, _ in ends:
            if rse.downtime:
                raise InDowntime(f"downtime of {rse.name}: {rse.downtime}")
        breaker = self.breaker
        for rse, protocol in ends:
            breaker.check(rse.name, protocol)

    @staticmethod
    def new_shared_dir(run_id: str, shard: tuple[int, int] | None = None) -> Path:
        """Shards of one round share its run id, and may run on one machine: each has a directory of its own."""
        directory = Path(tempfile.gettempdir()) / f"lakeprobe-run-{run_id}{f'-shard-{shard[0]}' if shard else ''}"
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return directory

    def remove_shared_dir(self):
        shutil.rmtree(self.shared_dir, ignore_errors=True)

    def dumps(self) -> str:
        return json.dumps(
            {
                "run_id": self.run_id,
                "run_kind": self.run_kind,
                "options": self.options.model_dump(),
                "inventory": self.inventory.model_dump(mode="json"),
                "rses": [r.name for r in self.selection.rses],
                "protocols": list(self.selection.protocols),
                "tpc_peers": self.selection.tpc_peers,
                "shared_dir": str(self.shared_dir),
                "shard": self.shard,
                "rotation": self.selection.rotation,
                "tokens": self.tokens,
                "preflight": self.preflight,
            }
        )

    @classmethod
    def loads(cls, text: str) -> "RunState":
        data = json.loads(text)
        inventory = Inventory.model_validate(data["inventory"])
        rotation = tuple(data["rotation"]) if data["rotation"] else None
        selection = Selection(
            inventory, [inventory.rses[n] for n in data["rses"]], tuple(data["protocols"]), data["tpc_peers"], rotation
        )
        shard = tuple(data["shard"]) if data["shard"] else None
        return cls(
            data["run_id"],
            data["run_kind"],
            RunOptions.model_validate(data["options"]),
            selection,
            Path(data["shared_dir"]),
            shard,
            data["tokens"],
            data["preflight"],
        )
