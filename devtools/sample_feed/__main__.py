"""python -m devtools.sample_feed: writes the sample feed, or a feed of any size."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devtools.sample_feed import generate, iter_records, write_feed
from devtools.sample_feed.coverage import coverage_problems, summarize


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/suppliers.jsonl"))
    parser.add_argument("--count", type=int, default=2400, help="number of suppliers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--any-size",
        action="store_true",
        help="draw every supplier around weighted cities, with no coverage promised",
    )
    return parser.parse_args()


def main() -> None:
    """Generate, check and write the sample feed (or, with --any-size, write one of any size)."""
    args = parse_args()
    if args.any_size:
        write_feed(args.out, iter_records(args.count, args.seed, required=()))
        return
    records = generate(args.count, args.seed)
    problems = coverage_problems(records)
    if problems:
        sys.exit("coverage requirements not met:\n  " + "\n  ".join(problems))
    write_feed(args.out, records)
    print(summarize(args.out, records), file=sys.stderr)


if __name__ == "__main__":
    main()
