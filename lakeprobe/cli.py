"""The `lakeprobe` command. Bad input and failed operations end in one line on stderr and a non-zero exit."""
import argparse
import json
import os
import sys
from pathlib import Path

from lakeprobe.records import RESULTS_DIR


def _lab_parser(sub):
    lab = sub.add_parser("lab", help="the embedded data lake on loopback").add_subparsers(dest="action",
                                                                                        required=True)
    up = lab.add_parser("up", help="start the lab (idempotent)")
    up.add_argument("--rses", type=int, default=3, help="number of storage elements (1-20, default 3)")
    up.add_argument("--base-port", type=int, help="first port of the lab's range (default 20000)")
    status = lab.add_parser("status", help="each component up or down, with its URL")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    lab.add_parser("down", help="stop every lab process")
    lab.add_parser("stop", help="stop one service, as an outage would (`lab up` starts it again)").add_argument(
        "service", help="issuer, rucio, postgres, influxdb or broker")
    fault = lab.add_parser("fault", help="inject a real fault into a running RSE")
    fault.add_argument("rse")
    fault.add_argument("kind", help="down, hang, readonly, full, slow, tpc-off, corrupt, no-auth, expired-cert")
    lab.add_parser("heal", help="remove an RSE's fault").add_argument("rse")


def _sweep_parser(sub):
    sweep = sub.add_parser("sweep", help="remove what killed runs left under the RSEs' probe prefix")
    sweep.add_argument("--older-than", default="6h", help="age of the run directories to remove (default 6h)")
    sweep.add_argument("--inventory", help="YAML inventory (default: the embedded lab's)")
    sweep.add_argument("--rse", action="append", default=[], help="only this RSE (repeatable)")
    sweep.add_argument("--timeout", type=float, default=60.0, help="deadline of every operation (default 60 s)")
    sweep.add_argument("--dry-run", action="store_true", help="only list what would be removed")


def _results_parser(sub):
    results = sub.add_parser("results", help="the run records under results/").add_subparsers(dest="action",
                                                                                            required=True)
    replay = results.add_parser("replay", help="deliver the records spooled while a sink was down")
    replay.add_argument("--results-dir", default=os.environ.get("LAKEPROBE_RESULTS_DIR") or str(RESULTS_DIR),
                        help="default: results/ (or LAKEPROBE_RESULTS_DIR)")


def _report_parser(sub):
    report = sub.add_parser("report", help="write the status page from the records of the last 24 hours")
    report.add_argument("--results-dir", default=os.environ.get("LAKEPROBE_RESULTS_DIR") or str(RESULTS_DIR),
                        help="default: results/ (or LAKEPROBE_RESULTS_DIR)")
    report.add_argument("--out", help="default: status.html in the results directory")


def _run_report(args) -> int:
    from lakeprobe.report import write_report
    out = Path(args.out or Path(args.results_dir) / "status.html")
    count = write_report(Path(args.results_dir), out)
    print(f"report: {out} ({count} records of the last 24 hours)")
    return 0


def _run_replay(args) -> int:
    from lakeprobe.sinks import Spool, deliver, spooled_specs
    results_dir = Path(args.results_dir)
    specs = spooled_specs(results_dir)
    left = 0
    for spec in specs:
        waiting = Spool(results_dir, spec).records()
        delivered, spooled, error = deliver(spec, [], results_dir)
        left += spooled
        print(f"{spec.name}: {delivered} of {waiting} spooled records delivered" + (f"; {error}" if error else ""))
    if not specs:
        print(f"replay: nothing spooled under {results_dir / 'spool'}")
    return 1 if left else 0


def _run_sweep(args) -> int:
    from lakeprobe.inventory import default_inventory, load_yaml
    from lakeprobe.storage import Storage
    from lakeprobe.sweep import parse_age, sweep
    from lakeprobe.tokens import TokenProvider
    from lakeprobe.trust import trust_ca_dir
    older_than = parse_age(args.older_than)
    inventory = load_yaml(args.inventory or default_inventory())
    tokens = TokenProvider.for_lake(inventory)
    trust_ca_dir(inventory.ca_dir)
    rses = inventory.select(args.rse)
    swept = sweep(Storage(tokens, args.timeout, rses=rses), rses, older_than, args.dry_run)
    for s in swept:
        print(f"{s.rse:<12} {s.outcome:<14} {s.url}  ({s.age_s / 3600:.1f} h old)")
    print(f"sweep: {sum(s.outcome in ('removed', 'would remove') for s in swept)} run directories "
          f"{'would be ' if args.dry_run else ''}removed from {len(rses)} RSEs")
    return 1 if any(s.outcome.startswith(("failed", "cannot")) for s in swept) else 0


def _run_lab(args):
    from lab.lab import Lab
    from lab.layout import Layout
    lab = Lab(Layout.from_env(base_port=getattr(args, "base_port", None)))
    if args.action == "up":
        took = lab.up(args.rses)
        print(f"lab up: {args.rses} RSEs, issuer, Rucio, PostgreSQL, InfluxDB, broker in {took:.1f} s "
              f"(run dir {lab.layout.run_dir})")
    elif args.action == "status":
        status = lab.status()
        if args.json:
            print(json.dumps(status, indent=1))
        else:
            for c in status["components"]:
                fault = f"  fault: {c['fault']}" if c.get("fault") else ""
                print(f"{c['name']:<10} {'up' if c['up'] else 'DOWN':<5} {c['url']}{fault}")
    elif args.action == "down":
        lab.down()
        print("lab down")
    elif args.action == "stop":
        lab.stop_service(args.service)
        print(f"{args.service}: stopped")
    elif args.action == "fault":
        lab.fault(args.rse, args.kind)
        print(f"{args.rse}: fault {args.kind} injected")
    elif args.action == "heal":
        lab.heal(args.rse)
        print(f"{args.rse}: healed")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="lakeprobe", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _lab_parser(sub)
    _sweep_parser(sub)
    _results_parser(sub)
    _report_parser(sub)
    args = parser.parse_args(argv)
    from lab.procs import LabError
    from lakeprobe.inventory import InventoryError
    try:
        if args.command == "lab":
            _run_lab(args)
        elif args.command == "sweep":
            return _run_sweep(args)
        elif args.command == "results":
            return _run_replay(args)
        elif args.command == "report":
            return _run_report(args)
    except (LabError, InventoryError, ValueError) as e:
        print(f"lakeprobe: error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # a failure of a component we drive: one line, never a traceback
        print(f"lakeprobe: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lakeprobe: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
