"""The `lakeprobe` command. Bad input and failed operations end in one line on stderr and a non-zero exit."""
import argparse
import json
import sys


def _lab_parser(sub):
    lab = sub.add_parser("lab", help="the embedded data lake on loopback").add_subparsers(dest="action",
                                                                                        required=True)
    up = lab.add_parser("up", help="start the lab (idempotent)")
    up.add_argument("--rses", type=int, default=3, help="number of storage elements (1-20, default 3)")
    up.add_argument("--base-port", type=int, help="first port of the lab's range (default 20000)")
    status = lab.add_parser("status", help="each component up or down, with its URL")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    lab.add_parser("down", help="stop every lab process")
    fault = lab.add_parser("fault", help="inject a real fault into a running RSE")
    fault.add_argument("rse")
    fault.add_argument("kind", help="down, hang, readonly, full, slow, tpc-off, corrupt, no-auth, expired-cert")
    lab.add_parser("heal", help="remove an RSE's fault").add_argument("rse")


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
    args = parser.parse_args(argv)
    from lab.procs import LabError
    try:
        if args.command == "lab":
            _run_lab(args)
    except LabError as e:
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
