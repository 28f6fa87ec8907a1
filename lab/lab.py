"""The embedded data lake as a whole: bring it up, report on it, bring it down, break and mend its RSEs."""

import concurrent.futures
import os
import time

import yaml

from lab import clients, faults, hosts, pki, procs, voms
from lab.broker import USER as BROKER_USER
from lab.broker import Broker
from lab.cache import EVICT_CLIENT, XCache
from lab.clients import AUDIENCE, CLIENTS, EMBARGO_DIR, PROBE_CLIENTS, PROBE_PREFIX
from lab.cluster import Cluster
from lab.influxdb import InfluxDB
from lab.issuer import Issuer
from lab.layout import MAX_RSES, Layout
from lab.postgres import Postgres
from lab.rse import StorageElement
from lab.rucio_daemons import all_daemons
from lab.rucio_server import PROBE_ACCOUNT, PROBE_SCOPE, RucioServer

DEFAULT_RSES = 3


class Lab:
    def __init__(self, layout: Layout | None = None):
        self.layout = layout or Layout.from_env()
        self.postgres, self.influxdb = Postgres(self.layout), InfluxDB(self.layout)
        self.broker, self.issuer = Broker(self.layout), Issuer(self.layout)
        self.rucio = RucioServer(self.layout)
        self.x509 = voms.Credentials(self.layout.pki, self.layout.run_dir)
        self.daemons = all_daemons(self.layout, self.rucio)

    @property
    def services(self) -> list[procs.Service]:
        return [self.issuer, self.rucio, *self.daemons, self.postgres, self.influxdb, self.broker]

    @property
    def rse_count(self) -> int:
        return self.layout.read_state().get("rses", 0)

    def rses(self, count: int | None = None) -> list[StorageElement]:
        return [StorageElement(self.layout, i) for i in range(1, (count or self.rse_count) + 1)]

    def rse(self, name: str) -> StorageElement:
        for rse in self.rses():
            if rse.name == name:
                return rse
        names = [r.name for r in self.rses()] + [c.name for c in [self.cluster] if c]
        raise procs.LabError(f"no lab RSE named {name!r}; known: {', '.join(names) or 'none (is the lab up?)'}")

    @property
    def cluster(self) -> Cluster | None:
        """The RSE that is an XRootD cluster (`lab up --cluster`), numbered after the single servers."""
        return Cluster(self.layout, self.rse_count + 1) if self.layout.read_state().get("cluster") else None

    @property
    def cache(self) -> XCache | None:
        """The XCache in front of XRD1, on the ports after every RSE and the cluster's."""
        return self._cache if self.rse_count else None

    @property
    def _cache(self) -> XCache:
        return XCache(self.layout, MAX_RSES + 2, StorageElement(self.layout, 1))

    def _clusters_on_disk(self) -> list[Cluster]:
        found = (self.layout.run_dir / "clusters").glob("XRD*")
        return [Cluster(self.layout, int(d.name[3:])) for d in found if d.name[3:].isdigit()]

    # -- up / down -----------------------------------------------------------------------------------
    def up(self, rses: int = DEFAULT_RSES, cluster: bool = False) -> float:
        if not 1 <= rses <= MAX_RSES:
            raise procs.LabError(f"--rses must be between 1 and {MAX_RSES}, not {rses}")
        started = time.monotonic()
        self.layout.run_dir.mkdir(parents=True, exist_ok=True)
        if not self.layout.reachable_by_others():
            raise procs.LabError(
                f"{self.layout.run_dir} is not reachable by the unprivileged xrootd user "
                "(a parent directory lacks o+x): set LAKEPROBE_LAB_DIR elsewhere"
            )
        previous = self.rse_count
        for extra in self.rses(previous)[rses:]:
            faults.heal_all_mounts(extra)
            extra.stop()
        for other in self._clusters_on_disk():  # its ports may be an RSE's now; tests' clusters stop too
            if not (cluster and other.index == rses + 1):
                other.stop()
        self.layout.write_state({"base_port": self.layout.base_port, "rses": rses, "cluster": cluster})
        hosts.ensure()
        pki.ensure(self.layout.pki)
        self.x509.ensure()
        clients.load_or_create(self.layout.clients_file)  # before the issuer and Rucio, who both read it
        os.environ["X509_CERT_DIR"] = str(self.layout.ca_dir)
        storage, clusters = self.rses(rses), [c for c in [self.cluster] if c]
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            # The broker and the catalogue take longest: they start while the rest comes up.
            slow = [pool.submit(self.broker.start), pool.submit(self._start_catalogue)]
            waits = [pool.submit(c.start) for c in (self.influxdb, self.issuer)]
            waits += [pool.submit(_start_rse, r) for r in storage]
            waits += [pool.submit(_start_cluster, c) for c in clusters]
            for f in waits + slow:
                f.result()
        every: list[StorageElement | Cluster] = [*storage, *clusters]
        self._start_cache()  # once the issuer is up: it asks for the token it reads its origin with
        self.rucio.register(every)
        for daemon in self.daemons:  # they act on the catalogue: started once it holds the lab's RSEs
            daemon.start()
        self.write_inventory(every, self.cache)
        return time.monotonic() - started

    def _start_cache(self):
        cache = self._cache
        if cache.up():  # running: `lab up` twice changes nothing but the token it reads its origin with
            cache.write_origin_token()
        else:
            cache.inject(cache.fault)  # a fault outlives `lab down` / `lab up` until it is healed

    def _start_catalogue(self):
        self.postgres.start()
        self.rucio.start()

    def down(self):
        self.layout.inventory.unlink(missing_ok=True)  # a lake that is down is no lake to probe
        for rse in self.rses(MAX_RSES):
            if rse.dir.exists():
                faults.heal_all_mounts(rse)
                rse.stop()
        for cluster in self._clusters_on_disk():
            cluster.stop()
        if (cache := self._cache).dir.exists():
            faults.heal_all_mounts(cache)
            cache.stop()
        stopping: list[procs.Service] = [*self.daemons, self.rucio, self.issuer, self.influxdb, self.broker]
        for service in [*stopping, self.postgres]:
            service.stop()

    def stop_service(self, name: str):
        for service in self.services:
            if service.name == name:
                return service.stop()
        raise procs.LabError(f"no lab service named {name!r}; known: {', '.join(s.name for s in self.services)}")

    # -- faults --------------------------------------------------------------------------------------
    def fault(self, name: str, kind: str):
        if (cluster := self.cluster) and name == cluster.name:
            return cluster.inject(kind)
        if (cache := self.cache) and name == cache.name:
            return cache.inject(kind)
        faults.inject(self.rse(name), kind)

    def heal(self, name: str):
        if (cluster := self.cluster) and name == cluster.name:
            return cluster.inject("")
        if (cache := self.cache) and name == cache.name:
            return cache.inject("")
        faults.heal(self.rse(name))

    # -- reporting -----------------------------------------------------------------------------------
    def status(self) -> dict:
        urls = {
            "issuer": self.layout.issuer_url,
            "rucio": self.layout.rucio_url,
            "postgres": self.layout.postgres_url,
            "influxdb": self.layout.influxdb_url,
            "broker": self.layout.broker_url,
        }
        components = [{"name": s.name, "url": urls.get(s.name, ""), "up": s.up()} for s in self.services]
        rses = []
        for rse in self.rses():
            components.append({"name": rse.name, "url": rse.davs_url, "up": rse.up(), "fault": rse.fault})
            rses.append({"name": rse.name, "root": rse.root_url, "davs": rse.davs_url, "fault": rse.fault})
        if cache := self.cache:
            components.append({"name": cache.name, "url": cache.davs_url, "up": cache.up(), "fault": cache.fault})
        if cluster := self.cluster:
            components += [{**node, "fault": cluster.fault} for node in cluster.status()]
            rses.append(
                {"name": cluster.name, "root": cluster.root_url, "davs": cluster.davs_url, "fault": cluster.fault}
            )
        return {
            "components": components,
            "rses": rses,
            **{k: urls[k] for k in ("issuer", "rucio", "influxdb")},
            "broker": urls["broker"],
            "postgres": urls["postgres"],
            "run_dir": str(self.layout.run_dir),
            "inventory": str(self.layout.inventory),
        }

    def write_inventory(self, storage: list[StorageElement | Cluster], cache: XCache | None = None):
        """The inventory the suites read when they probe the lab (schema in README.md)."""
        inventory = {
            "lake": "lakeprobe-lab",
            "ca_dir": str(self.layout.ca_dir),
            "issuer": {
                "url": self.layout.issuer_url,
                "audience": AUDIENCE,
                "clients_file": str(self.layout.clients_file),
                "scopes": {client: spec[0] for client, spec in CLIENTS.items() if client in PROBE_CLIENTS},
            },
            "rucio": {
                "url": self.layout.rucio_url,
                "config": str(self.rucio.client_cfg),
                "account": PROBE_ACCOUNT,
                "scope": PROBE_SCOPE,
                "auth": "token",
                # The lab's daemons act within seconds (lab/rucio_daemons.py): so may the suite's limits.
                "lifetime_s": 60,
                "deletion_grace_s": 60,
            },
            "influxdb": {"url": self.layout.influxdb_url, "database": "lakeprobe"},
            "postgres": {"url": self.layout.postgres_url.replace("lakeprobe@", "postgres@")},
            "broker": {
                "url": self.layout.broker_url,
                "user": BROKER_USER,
                "password_file": str(self.broker.password_file),
            },
            "rses": {
                r.name: {
                    "protocols": {"davs": r.davs_url, "root": r.root_url},
                    "prefix": PROBE_PREFIX,
                    "embargo": EMBARGO_DIR,
                    **({} if isinstance(r, Cluster) else {"x509": True, "macaroons": True}),
                }
                for r in storage
            },
            "x509": {"vo": voms.VO, **{name: str(self.x509.proxy(name)) for name in voms.PROXIES}},
        }
        if cache:
            protocols = {"davs": cache.davs_url, "root": cache.root_url}
            inventory["caches"] = {
                cache.name: {"protocols": protocols, "origins": [cache.origin.name], "evict_client": EVICT_CLIENT}
            }
        self.layout.inventory.write_text(yaml.safe_dump(inventory, sort_keys=False))


def _start_cluster(cluster: Cluster):
    if not cluster.up():  # running as it should be: `lab up` twice changes nothing
        cluster.stop()
        cluster.prepare()
        cluster.start()


def _start_rse(rse: StorageElement):
    if rse.fault != "full":
        faults.heal_all_mounts(rse)
    rse.prepare()
    if rse.fault == "hang" or not rse.fault:
        rse.set_fault("")
        rse.start()
    else:
        faults.inject(rse, rse.fault)  # a fault outlives `lab down` / `lab up` until it is healed
