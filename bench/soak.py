"""Soak: many healthy rounds of every suite in a row on a 3-RSE lab (the bench lab's), as an hourly pipeline
would run them back to back. Prints the records that did not pass, by check and status (on a healthy lab,
none but the skips of what the lab has not: FTS for Rucio's transfers, a GOCDB feed), and what the rounds
left in the probe area (none); Rucio's own files are its reaper's, counted once their lifetime and grace
are over."""

import time
from collections import Counter

from bench.round import bench_lab, client_env, lakeprobe_round
from lakeprobe.inventory import load_yaml

# The lab has no FTS (Rucio cannot move data between RSEs) and names no GOCDB feed.
EXPECTED_SKIPS = {"rucio_rule_transfer", "downtime_feed"}


def main(rounds: int):
    lab = bench_lab()
    lab.up(3)
    try:
        env, left, started = client_env(lab), 0, time.monotonic()
        unexpected: Counter[tuple[str, str, str]] = Counter()
        settings = load_yaml(lab.layout.inventory).rucio
        for n in range(1, rounds + 1):
            seconds, records = lakeprobe_round(lab.layout.inventory, env, 3, suite="suites")
            for r in records:
                if r.status != "pass" and not (r.status == "skip" and r.check in EXPECTED_SKIPS):
                    unexpected[(r.check, str(r.status), str(r.error_class))] += 1
            run_id = records[0].run_id if records else ""
            left += sum(1 for rse in lab.rses() for p in (rse.data / "lakeprobe").rglob(f"*{run_id}*")) if run_id else 0
            print(f"round {n}/{rounds}: {len(records)} checks in {seconds:.1f} s", flush=True)
        time.sleep(settings.lifetime_s + settings.deletion_grace_s if settings else 0)
        rucio_left = sum(1 for rse in lab.rses() for p in (rse.data / "rucio").rglob("*") if p.is_file())
        print(
            f"soak: {rounds} rounds in {time.monotonic() - started:.0f} s; records not passing (besides the "
            f"skips of what the lab has not): {sum(unexpected.values())} {dict(unexpected)}; files left in the probe "
            f"area: {left}; in Rucio's area after lifetime and grace: {rucio_left}"
        )
    finally:
        lab.down()
