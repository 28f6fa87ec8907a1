"""`make bench` / `python -m bench [round] [sinks] [--rses N] [--workers N] [--records N]`: benchmarks that
print what they measured in one run, as ratios against a baseline; nothing here asserts a time."""

import argparse

from bench import round as round_bench
from bench import sinks as sinks_bench


def main():
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("which", nargs="*", help="benchmarks to run: round, sinks (default: all)")
    parser.add_argument("--rses", type=int, default=10, help="RSEs in the round benchmark's lab (default 10)")
    parser.add_argument("--workers", type=int, default=24, help="pytest-xdist workers for lakeprobe (default 24)")
    parser.add_argument("--records", type=int, default=100_000, help="records for the sinks benchmark")
    args = parser.parse_args()
    which = args.which or ["round", "sinks"]
    unknown = set(which) - {"round", "sinks"}
    if unknown:
        parser.error(f"unknown benchmark {', '.join(sorted(unknown))}; known: round, sinks")
    if "round" in which:
        round_bench.main(args.rses, args.workers)
    if "sinks" in which:
        sinks_bench.main(args.records)


if __name__ == "__main__":
    main()
