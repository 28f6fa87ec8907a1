"""`make bench` / `python -m bench [round] [--rses N] [--workers N]`: benchmarks that print what they measured
in one run, as ratios against a baseline; nothing here asserts a time."""
import argparse

from bench import round as round_bench


def main():
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("which", nargs="*", help="benchmarks to run: round (default: all)")
    parser.add_argument("--rses", type=int, default=10, help="RSEs in the round benchmark's lab (default 10)")
    parser.add_argument("--workers", type=int, default=24,
                        help="pytest-xdist workers for lakeprobe (default 24)")
    args = parser.parse_args()
    which = args.which or ["round"]
    unknown = set(which) - {"round"}
    if unknown:
        parser.error(f"unknown benchmark {', '.join(sorted(unknown))}; known: round")
    if "round" in which:
        round_bench.main(args.rses, args.workers)


if __name__ == "__main__":
    main()
