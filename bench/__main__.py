"""`make bench` / `python -m bench [round] [soak] [sinks] [options]`: benchmarks that print what they measured
in one run, as ratios against a baseline where there is one; nothing here asserts a time."""

import argparse

from bench import round as round_bench
from bench import sinks as sinks_bench
from bench import soak as soak_bench
from lab.layout import MAX_RSES


def main():
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("which", nargs="*", help="benchmarks to run: round, soak, sinks (default: all)")
    parser.add_argument(
        "--sizes", type=_sizes, default=[5, 10, 20, 40], help="lab sizes of the round benchmark (default 5,10,20,40)"
    )
    parser.add_argument("--baseline-at", type=int, default=10, help="lab size of the gfal-* baseline (default 10)")
    parser.add_argument("--workers", default="auto", help="pytest-xdist workers for lakeprobe (default auto)")
    parser.add_argument("--rounds", type=int, default=50, help="rounds of the soak (default 50)")
    parser.add_argument("--records", type=int, default=100_000, help="records for the sinks benchmark")
    args = parser.parse_args()
    which = args.which or ["round", "soak", "sinks"]
    unknown = set(which) - {"round", "soak", "sinks"}
    if unknown:
        parser.error(f"unknown benchmark {', '.join(sorted(unknown))}; known: round, soak, sinks")
    if "round" in which:
        round_bench.main(args.sizes, args.workers, args.baseline_at)
    if "soak" in which:
        soak_bench.main(args.rounds)
    if "sinks" in which:
        sinks_bench.main(args.records)


def _sizes(value: str) -> list[int]:
    try:
        sizes = [int(v) for v in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a list of lab sizes like 5,10,20") from None
    if not all(1 <= s <= MAX_RSES for s in sizes):
        raise argparse.ArgumentTypeError(f"lab sizes are between 1 and {MAX_RSES}")
    return sizes


if __name__ == "__main__":
    main()
