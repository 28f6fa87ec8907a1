"""The `lakeprobe` command. Bad input and failed operations end in one line on stderr and a non-zero exit:
2 for a usage mistake, 1 for a failure, 130 for Ctrl-C."""

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from lakeprobe import paths


class OneLineParser(argparse.ArgumentParser):
    as_plugin = False  # parsing `lakeprobe nagios ...`: argparse reports unknown arguments from the top parser

    def error(self, message):
        if self.as_plugin:  # a monitoring plugin's usage mistake is UNKNOWN, on stdout
            print(f"LAKEPROBE UNKNOWN - {message} (see lakeprobe nagios --help)")
            self.exit(3)
        self.exit(2, f"lakeprobe: error: {message} (see --help)\n")


class UsageError(Exception):
    """A mistake in what the user asked; exit code 2."""


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text!r}") from None
    if not 0 < value <= 24 * 3600:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text!r}")
    return value


def _add_results_dir(parser: argparse.ArgumentParser):
    parser.add_argument(
        "--results-dir", default=str(paths.results_dir()), help="default: results/ (or LAKEPROBE_RESULTS_DIR)"
    )


def _add_record_source(parser: argparse.ArgumentParser):
    """Where `report` and `availability` read the lake's records: the results directory, or a SQL sink."""
    _add_results_dir(parser)
    parser.add_argument(
        "--from-sql",
        metavar="URL",
        help="read the records from this SQL sink instead (a SQLAlchemy URL; password: LAKEPROBE_SQL_PASSWORD)",
    )
    parser.add_argument("--inventory", help="read them from the SQL sink this inventory names, for its lake")


def _record_source(args) -> tuple[str | None, str | None]:
    """The SQL sink to read (None: the results directory) and the lake: --from-sql and --lake, or the SQL
    sink --inventory names and its lake. A URL that cannot be a sink's is the user's mistake, refused here."""
    sql, lake = args.from_sql, args.lake
    if args.inventory:
        from lakeprobe.inventory import load_yaml

        inventory = load_yaml(args.inventory)
        sink = inventory.sql or inventory.postgres
        if not sink:
            raise UsageError(f"inventory {args.inventory} names no SQL sink (sql: or postgres:) to read from")
        sql, lake = sink.url, args.lake or inventory.lake
    if sql:
        from lakeprobe.sql import sql_url

        try:
            sql_url(sql)
        except ValueError as e:
            raise UsageError(f"--from-sql: {e}") from None
    return sql, lake


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lakeprobe")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="lakeprobe", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    lab = sub.add_parser("lab", help="the embedded data lake on loopback").add_subparsers(
        dest="action", required=True, parser_class=OneLineParser
    )
    up = lab.add_parser("up", help="start the lab (idempotent)")
    up.add_argument("--rses", type=int, default=3, help="number of storage elements (1-50, default 3)")
    up.add_argument("--base-port", type=int, help="first port of the lab's range (default 20000)")
    up.add_argument(
        "--cluster", action="store_true", help="one more RSE that is an XRootD cluster (a manager, two data servers)"
    )
    status = lab.add_parser("status", help="each component up or down, with its URL; exit 1 if any is down")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    lab.add_parser("down", help="stop every lab process")
    lab.add_parser("stop", help="stop one service, as an outage would (`lab up` starts it again)").add_argument(
        "service",
        help="issuer, rucio, judge-evaluator, judge-cleaner, undertaker, reaper, hermes, postgres, influxdb or broker",
    )
    fault = lab.add_parser("fault", help="inject a real fault into a running RSE")
    fault.add_argument("rse")
    fault.add_argument(
        "kind",
        help="down, hang, readonly, full, slow, tpc-off, corrupt, no-auth, passthrough-read, passthrough-all, "
        "scope-prefix, single-audience, trailing-slash, two-base-paths, no-groups, expired-cert, x509-off, "
        "x509-other-vo, x509-any-proxy, macaroons-off, macaroons-not-taken, ipv6-off, ipv4-off, or "
        "no-route-to-RSE (e.g. no-route-to-XRD1); on the cluster: down, server-down, corrupt, no-route-to-RSE, "
        "tpc-off, expired-cert or a token fault",
    )
    lab.add_parser("heal", help="remove an RSE's fault").add_argument("rse")

    sweep = sub.add_parser("sweep", help="remove what killed runs left under the RSEs' probe prefix")
    sweep.add_argument(
        "--older-than", default="6h", help="age of the run directories to remove: 90s, 30m, 6h, 2d (default 6h)"
    )
    sweep.add_argument("--inventory", help="YAML inventory (default: the embedded lab's)")
    sweep.add_argument("--rse", action="append", default=[], help="only this RSE (repeatable)")
    sweep.add_argument(
        "--timeout", type=_positive_seconds, default=60.0, help="deadline of every operation (default 60 s)"
    )
    sweep.add_argument("--dry-run", action="store_true", help="only list what would be removed")

    results = sub.add_parser("results", help="the run records under results/").add_subparsers(
        dest="action", required=True, parser_class=OneLineParser
    )
    replay = results.add_parser("replay", help="deliver the records spooled while a sink was down")
    discard = results.add_parser("discard", help="drop a sink's spooled records (a sink that is gone for good)")
    discard.add_argument("sink", help="the sink's name as `replay` prints it, or `all`")
    for each in (replay, discard):
        _add_results_dir(each)

    report = sub.add_parser("report", help="write the status page from the lake's records of the last 24 hours")
    _add_record_source(report)
    report.add_argument("--lake", help="the lake to show (default: the lake of the newest records)")
    report.add_argument("--stale-after", default="2h", help="a result older than this shows as stale (default 2h)")
    report.add_argument("--out", help="default: status.html in the results directory")
    report.add_argument(
        "--chat",
        choices=("slack", "mattermost", "rocketchat"),
        help="also post what the last round changed (webhook URL in LAKEPROBE_CHAT_WEBHOOK)",
    )
    report.add_argument("--chat-confirm", type=int, default=2, help="rounds a new state must hold (default 2)")
    report.add_argument(
        "--run-id",
        metavar="ID",
        help="the id the scheduler gave the round that just ended (as given to its shards): a check it did "
        "not report on shows no data, and missing shards are named",
    )
    report.add_argument("--shards", type=int, default=1, metavar="N", help="with --run-id: the round's shards")

    availability = sub.add_parser(
        "availability", help="availability and reliability per RSE, per day and over a period, from the rounds"
    )
    availability.add_argument("--since", default="30d", help="the period: 90s, 30m, 6h, 30d (default 30d)")
    _add_record_source(availability)
    availability.add_argument("--lake", help="the lake (default: the lake of the newest rounds)")
    availability.add_argument("--format", choices=("table", "csv", "json"), default="table")
    availability.add_argument(
        "--validity", default="2h", help="how long a round's result holds when no round follows (default 2h)"
    )
    nagios = sub.add_parser(
        "nagios",
        help="run a suite on one RSE as a Nagios/Icinga check: a status line, the findings, exit 0/1/2/3",
    )
    nagios.add_argument("--rse", help="the RSE to check (the site and rucio suites need one)")
    nagios.add_argument("--suite", default="site", help="site (default), services or rucio")
    nagios.add_argument("--protocol", action="append", default=[], help="only this protocol (repeatable)")
    nagios.add_argument("--tpc-peer", action="append", default=[], help="copy only with this peer (repeatable)")
    nagios.add_argument("--inventory", help="YAML inventory (default: the embedded lab's)")
    nagios.add_argument("--timeout", type=_positive_seconds, help="deadline of every network operation")
    nagios.add_argument("--file-size", help="size of the probe file: 64k, 1M (default 1M)")
    nagios.add_argument(
        "-t",
        "--plugin-timeout",
        type=_positive_seconds,
        default=50.0,
        help="the whole check's deadline, below the monitoring's own service check timeout (default 50 s: "
        "Nagios' is 60 s)",
    )
    _add_results_dir(nagios)
    nagios.add_argument(
        "--passive",
        metavar="HOST",
        help="print the result as a passive check's external command for this host, not as plugin output",
    )
    nagios.add_argument("--service", help="with --passive: the service's name (default: lakeprobe-<RSE>)")
    nagios.add_argument("-V", "--version", action="version", version=f"lakeprobe nagios {_version()}")
    return parser


def _run_lab(args) -> int:
    from lab.lab import Lab
    from lab.layout import Layout

    lab = Lab(Layout.from_env(base_port=getattr(args, "base_port", None)))
    if args.action == "up":
        took = lab.up(args.rses, cluster=args.cluster)
        cluster = f" and the cluster {lab.cluster.name}" if lab.cluster else ""
        print(
            f"lab up: {args.rses} RSEs{cluster}, issuer, Rucio, PostgreSQL, InfluxDB, broker in {took:.1f} s "
            f"(run dir {lab.layout.run_dir})"
        )
    elif args.action == "status":
        status = lab.status()
        if args.json:
            print(json.dumps(status, indent=1))
        else:
            for c in status["components"]:
                fault = f"  fault: {c['fault']}" if c.get("fault") else ""
                print(f"{c['name']:<15} {'up' if c['up'] else 'DOWN':<5} {c['url']}{fault}")
        down = [c["name"] for c in status["components"] if not c["up"]]
        if down:
            print(f"lakeprobe: {len(down)} lab components are down: {', '.join(down)}", file=sys.stderr)
            return 1
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
    return 0


def _run_sweep(args) -> int:
    from lakeprobe import trust
    from lakeprobe.inventory import lab_inventory, load_yaml
    from lakeprobe.protocols import registry
    from lakeprobe.storage import Storage
    from lakeprobe.sweep import parse_age, sweep
    from lakeprobe.tokens import TokenProvider

    try:
        older_than = parse_age(args.older_than)
    except ValueError as e:
        raise UsageError(str(e)) from None
    inventory = load_yaml(args.inventory or lab_inventory())
    rses = inventory.select(args.rse)
    trust.trust_ca_dir(inventory.ca_dir)
    tokens = TokenProvider.for_lake(inventory)
    for protocol in registry.schemes():
        registry.get(protocol).prepare_process()
    swept = sweep(Storage(tokens, args.timeout, rses), rses, older_than, args.dry_run)
    for s in swept:
        print(f"{s.rse:<12} {s.outcome:<14} {s.url}  ({s.age_s / 3600:.1f} h old)")
    print(
        f"sweep: {sum(s.outcome in ('removed', 'would remove') for s in swept)} run directories "
        f"{'would be ' if args.dry_run else ''}removed from {len(rses)} RSE{'s' if len(rses) != 1 else ''}"
    )
    return 1 if any(s.outcome.startswith(("failed", "cannot", "refused")) for s in swept) else 0


def _run_results(args) -> int:
    from lakeprobe.sinks import Spool, deliver, spooled_specs

    results_dir = Path(args.results_dir)
    specs = spooled_specs(results_dir)
    if args.action == "discard":
        chosen = [s for s in specs if args.sink in ("all", s.name)]
        if not chosen:
            known = "; ".join(s.name for s in specs) or "none"
            raise UsageError(f"no spool for sink {args.sink!r}; spooled: {known}")
        for spec in chosen:
            print(f"{spec.name}: {Spool(results_dir, spec).discard()} spooled records discarded")
        return 0
    left = 0
    for spec in specs:
        waiting = Spool(results_dir, spec).records()
        delivered, spooled, error = deliver(spec, [], results_dir)
        left += spooled
        print(f"{spec.name}: {delivered} of {waiting} spooled records delivered" + (f"; {error}" if error else ""))
    if not specs:
        print(f"replay: nothing spooled under {results_dir / 'spool'}")
    if left:
        print(
            "replay: records are still spooled; `lakeprobe results discard SINK` drops a sink's spool", file=sys.stderr
        )
    return 1 if left else 0


def _run_report(args) -> int:
    from lakeprobe import report
    from lakeprobe.sweep import parse_age

    try:
        stale_after = parse_age(args.stale_after)
    except ValueError as e:
        raise UsageError(f"--stale-after: {e}") from None
    if args.shards < 1 or (args.shards > 1 and not args.run_id):
        raise UsageError("--shards needs --run-id, and is 1 or more")
    sql, args.lake = _record_source(args)
    webhook = os.environ.get("LAKEPROBE_CHAT_WEBHOOK", "")
    if args.chat and not webhook.startswith(("https://", "http://")):
        raise UsageError("--chat needs the webhook's URL (https://...) in LAKEPROBE_CHAT_WEBHOOK")
    out = Path(args.out or Path(args.results_dir) / "status.html")
    made = report.write(out, Path(args.results_dir), sql, args.lake, stale_after, None, args.run_id, args.shards)
    print(made.summary)
    if args.chat:
        print(made.chat(args.chat, webhook, args.chat_confirm, Path(args.results_dir)))
    return 0


def _run_availability(args) -> int:
    import time

    from lakeprobe import availability
    from lakeprobe.sweep import parse_age

    ages = {}
    for option, text in (("--since", args.since), ("--validity", args.validity)):
        try:
            ages[option] = parse_age(text)
        except ValueError as e:
            raise UsageError(f"{option}: {e}") from None
        if ages[option] <= 0:
            raise UsageError(f"{option}: must be above 0, not {text!r}")
    since, validity = ages["--since"], ages["--validity"]
    sql, lake = _record_source(args)
    now = time.time()
    figures = availability.load(Path(args.results_dir), sql, lake, now - since, now, validity)
    print(availability.FORMATS[args.format](figures), end="")
    return 0


def _run_nagios(args) -> int:
    from lakeprobe import nagios
    from lakeprobe.errors import scrub

    if args.suite not in nagios.SUITES:
        result = nagios.Result(nagios.UNKNOWN, f"no suite {args.suite!r}: one of {', '.join(nagios.SUITES)}")
    elif args.suite != "services" and not args.rse:
        result = nagios.Result(nagios.UNKNOWN, f"the {args.suite} suite checks one RSE: give --rse")
    elif args.suite == "services" and args.rse:
        result = nagios.Result(nagios.UNKNOWN, "the services suite checks the lake's services, not an RSE: no --rse")
    else:
        forwarded = [f"--protocol={p}" for p in args.protocol] + [f"--tpc-peer={p}" for p in args.tpc_peer]
        forwarded += [f"--inventory={args.inventory}"] if args.inventory else []
        forwarded += [f"--timeout={args.timeout:g}"] if args.timeout else []
        forwarded += [f"--file-size={args.file_size}"] if args.file_size else []
        try:
            result = nagios.run_check(args.suite, args.rse, forwarded, args.plugin_timeout, Path(args.results_dir))
        except Exception as e:  # lakeprobe's own failure: UNKNOWN, never CRITICAL for the site
            result = nagios.Result(nagios.UNKNOWN, f"lakeprobe failed: {type(e).__name__}: {scrub(str(e))}")
    if args.passive:
        print(result.passive(args.passive, args.service or f"lakeprobe-{args.rse or args.suite}"))
    else:
        print(result.output())
    return result.state


def main(argv=None) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `lakeprobe lab status | head` ends quietly
    argv = sys.argv[1:] if argv is None else argv
    OneLineParser.as_plugin = argv[:1] == ["nagios"]
    args = _parser().parse_args(argv)
    from lab.procs import LabError
    from lakeprobe.inventory import InventoryError

    try:
        return {
            "lab": _run_lab,
            "sweep": _run_sweep,
            "results": _run_results,
            "report": _run_report,
            "availability": _run_availability,
            "nagios": _run_nagios,
        }[args.command](args)
    except (UsageError, InventoryError) as e:
        print(f"lakeprobe: error: {e}", file=sys.stderr)
        return 2
    except LabError as e:
        print(f"lakeprobe: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lakeprobe: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a failure of a component we drive: one line, never a traceback
        from lakeprobe.errors import scrub

        print(
            f"lakeprobe: error: {type(e).__name__}: {scrub(str(e)).splitlines()[0] if str(e) else ''}", file=sys.stderr
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
