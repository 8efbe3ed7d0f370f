"""Where a served Match's time goes: cProfile over its work in one process, gRPC's own aside.

    python -m bench.profile --feed bench/.cache/suppliers-100000-seed11.jsonl --queries 200

Each call is what the servicer does (request converted in, Matching.match, response built and
serialised) at the bench's user points, with the bench's pinned clock. Self time is summed by
module; a C function's (a datetime method, a protobuf constructor) goes to the module that
called it, in proportion to its calls from each, so each row reads "this module's Python and
the C calls it makes". cProfile's own overhead inflates many small calls the most.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import sysconfig
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from matcher.engine.catalog import Catalog
from matcher.geo.timezones import TimezoneResolver
from matcher.model import Point
from matcher.paging import PageTokens
from matcher.service import Matching
from matcher.settings import Limits
from matcher_api import convert
from matcher_api.v1 import matcher_pb2 as pb

ROOT = Path(__file__).resolve().parent.parent
#: Rows of each table kept in the results.
TOP = 12
STDLIB = Path(sysconfig.get_paths()["stdlib"])
#: (file, line, name) as pstats keys functions.
Key = tuple[str, int, str]


def served_match(matching: Matching, *, where: pb.Location) -> bytes:
    """One Match as the servicer runs it, to the bytes gRPC would send."""
    page = matching.match(convert.match_input(pb.MatchRequest(location=where)), wanted=_always)
    return convert.match_page(page).SerializeToString()


def _always() -> bool:
    """The caller is always still waiting."""
    return True


def module_of(key: Key) -> str:
    """A readable name for the module a function is in: a repo path, a stdlib module, a package."""
    path = Path(key[0])
    if path.is_relative_to(ROOT) and ".venv" not in path.parts:
        return str(path.relative_to(ROOT))
    if "site-packages" in path.parts:
        rest = path.parts[path.parts.index("site-packages") + 1 :]
        return ".".join(rest[:2]).removesuffix(".py")
    if path.is_relative_to(STDLIB):
        return "stdlib " + str(path.relative_to(STDLIB)).removesuffix(".py")
    return key[0]


def name_of(key: Key) -> str:
    """A function as ``module:name`` (C functions as cProfile names them)."""
    return key[2] if key[0] == "~" else f"{module_of(key)}:{key[2]}"


def by_module(stats: dict[Key, Any]) -> dict[str, float]:
    """Self seconds per module, each C function's charged to its callers' modules."""
    seconds: dict[str, float] = defaultdict(float)
    for key, (_, _, own, _, callers) in stats.items():
        if key[0] != "~" or not callers:
            seconds[module_of(key)] += own
            continue
        edges = {caller: edge[2] for caller, edge in callers.items()}
        spread = sum(edges.values()) or 1.0
        for caller, part in edges.items():
            seconds[module_of(caller)] += own * part / spread
    return seconds


def run(
    catalog: Catalog, *, resolver: TimezoneResolver, points: Sequence[Point], now: datetime
) -> dict[str, object]:
    """Profiles the served Match's work over the points; the largest modules and functions."""
    limits = Limits()
    matching = Matching(
        catalog=lambda: catalog,
        resolver=resolver,
        tokens=PageTokens(b"bench", ttl=limits.page_token_ttl),
        limits=limits,
        clock=lambda: now,
    )
    where = [pb.Location(point=pb.LatLng(lat=p.lat, lng=p.lng)) for p in points]
    for w in where[:10]:
        served_match(matching, where=w)  # caches warm, as in a serving worker
    profiler = cProfile.Profile()
    profiler.enable()
    for w in where:
        served_match(matching, where=w)
    profiler.disable()
    stats: dict[Key, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(own for _, _, own, _, _ in stats.values())
    n = max(len(where), 1)
    modules = sorted(by_module(stats).items(), key=lambda kv: -kv[1])[:TOP]
    functions = sorted(stats.items(), key=lambda kv: -kv[1][2])[:TOP]
    return {
        "queries": len(where),
        "profiled_ms_per_match": total * 1000 / n,
        "modules": [{"module": m, "share": s / total} for m, s in modules],
        "functions": [
            {
                "function": name_of(key),
                "self_share": own / total,
                "cumulative_share": cumulative / total,
                "calls_per_match": calls / n,
            }
            for key, (_, calls, own, cumulative, _) in functions
        ],
    }


def table(profile: dict[str, Any]) -> str:
    """The profile as two Markdown tables: by module, then the functions with most self time."""
    lines = [
        f"Profiled over {profile['queries']:,} Matches,"
        f" {profile['profiled_ms_per_match']:.1f} ms each under cProfile.",
        "",
        "| module (with the C calls it makes) | share of the time |",
        "|---|---:|",
        *(f"| `{m['module']}` | {m['share']:.1%} |" for m in profile["modules"]),
        "",
        "| function | self | cumulative | calls per Match |",
        "|---|---:|---:|---:|",
        *(
            f"| `{f['function']}` | {f['self_share']:.1%} | {f['cumulative_share']:.1%}"
            f" | {f['calls_per_match']:,.0f} |"
            for f in profile["functions"]
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Loads a feed and prints its profile tables."""
    from bench.size import NOW
    from bench.synthetic import user_points
    from matcher.feeds import load_feed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feed", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    catalog = Catalog(load_feed(args.feed).suppliers)
    points = user_points(args.queries)
    profile = run(catalog, resolver=TimezoneResolver(), points=points, now=NOW)
    sys.stdout.write(table(profile) + "\n")


if __name__ == "__main__":
    main()
