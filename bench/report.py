"""The results as Markdown tables (the README's) and a PNG plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after the backend is chosen

RPC_NAMES = {"health": "no-op (health Check)", "match": "Match", "resolve": "ResolveTimezone"}
#: In-process entries that are not latency summaries of one query each.
NOT_TIMINGS = {"mean_results"}
#: Keys and list positions leading to one value of a size's results.
KeyPath = tuple[str | int, ...]
#: The peers' latencies, as (label, path into a size's results), in the plot's and table's order.
PEERS: tuple[tuple[str, KeyPath], ...] = (
    ("PostGIS in-person Match (SQL)", ("peers", "postgis", "match")),
    ("Redis GEOSEARCH (nearby only)", ("peers", "redis", "geosearch")),
    ("served Match, 1 client", ("served", 0, "sequential", "match")),
    ("serving floor, 1 client", ("served", 0, "sequential", "floor")),
)


def table(results: dict[str, Any]) -> str:
    """The README's tables: in-process work, Match against its peers, agreement, then served."""
    lines = [
        "| suppliers | load_feed + Catalog | peak RSS | Match p50 / p99 | brute force p50 / p99"
        " | brute / Match (p50) | zone_at + state_at p50 |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in results["sizes"]:
        local = s["in_process"]
        match, brute = local["match"], local["brute_force"]
        lines.append(
            f"| {s['suppliers']:,} | {s['load_feed_s']:.1f} s + {s['catalog_s']:.1f} s"
            f" | {s['peak_rss_mib']:,.0f} MiB | {_ms(match)} | {_ms(brute)}"
            f" | {brute['median_ms'] / match['median_ms']:.1f}x"
            f" | {local['resolve_timezone']['median_ms'] * 1000:.0f} µs |"
        )
    if any("peers" in s for s in results["sizes"]):
        lines += ["", *peer_table(results), "", *agreement_table(results)]
    lines += [
        "",
        "| suppliers | Match, in person only, p50 / p99 | nearby step p50 / p99"
        " | floor p50 / p99 | nearby / floor (p50) | floor's suppliers the step lists |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for s in results["sizes"]:
        local = s["in_process"]
        nearby, floor = local["nearby"], local["floor"]
        lines.append(
            f"| {s['suppliers']:,} | {_ms(local['match_in_person'])} | {_ms(nearby)}"
            f" | {_ms(floor)} | {nearby['median_ms'] / floor['median_ms']:.1f}x"
            f" | {local['floor_agreement']:.1%} |"
        )
    lines += [
        "",
        "| suppliers | workers | no-op calls/s | Match calls/s | Match p50 / p99"
        " | Match / no-op | floor calls/s | floor p50 / p99 | Match / floor"
        " | ResolveTimezone calls/s | RSS / PSS per worker |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in results["sizes"]:
        for run in s["served"]:
            rpcs = run["rpcs"]
            workers = run["memory"]["workers"]
            rss = sum(w["rss_mib"] for w in workers) / len(workers)
            pss = sum(w["pss_mib"] for w in workers) / len(workers)
            match, floor = rpcs["match"]["calls_per_s"], rpcs["floor"]["calls_per_s"]
            lines.append(
                f"| {s['suppliers']:,} | {run['workers']} | {rpcs['health']['calls_per_s']:,.0f}"
                f" | {match:,.0f} | {_ms(rpcs['match'])}"
                f" | {match / rpcs['health']['calls_per_s']:.0%} | {floor:,.0f}"
                f" | {_ms(rpcs['floor'])} | {match / floor:.0%}"
                f" | {rpcs['resolve']['calls_per_s']:,.0f}"
                f" | {rss:,.0f} / {pss:,.0f} MiB |"
            )
    return "\n".join([*lines, "", *crowd_table(results)])


def crowd_table(results: dict[str, Any]) -> list[str]:
    """Match with many clients calling at once on one worker: latency and every failed call."""
    lines = [
        "| suppliers | concurrent clients | Match calls/s | Match p50 / p99 | failed calls |",
        "|---:|---:|---:|---:|---:|",
    ]
    for s in results["sizes"]:
        crowd = s["served"][0].get("crowd", {}).get("match")
        if crowd is None:
            continue
        failed = ", ".join(f"{n:,} {code}" for code, n in sorted(crowd["errors"].items()))
        lines.append(
            f"| {s['suppliers']:,} | {crowd['clients']} | {crowd['calls_per_s']:,.0f}"
            f" | {_ms(crowd)} | {failed or 'none'} |"
        )
    return lines


def peer_table(results: dict[str, Any]) -> list[str]:
    """Match against each peer, per size: median / p99 of sequential calls, and load times."""
    extra = _in_process_names(results)
    header = ["suppliers", "Match", *extra, *(label for label, _ in PEERS)]
    lines = [
        "| " + " | ".join(header) + " | Match / PostGIS (p50) | served Match / PostGIS (p50)"
        " | PostGIS load (COPY + index) | Redis load |",
        "|" + "---:|" * (len(header) + 4),
    ]
    for s in results["sizes"]:
        if "peers" not in s:
            continue
        local, pg, redis = s["in_process"], s["peers"]["postgis"], s["peers"]["redis"]
        cells = [f"{s['suppliers']:,}", _ms(local["match"])]
        cells += [_ms(local[name]) if name in local else "" for name in extra]
        cells += [_ms(_at(s, path)) for _, path in PEERS]
        sql = pg["match"]["median_ms"]
        cells += [
            f"{local['match']['median_ms'] / sql:.2f}x",
            f"{_at(s, PEERS[2][1])['median_ms'] / sql:.2f}x",
            f"{pg['load']['copy_s']:.1f} s + {pg['load']['index_s']:.1f} s",
            f"{redis['load']['load_s']:.1f} s",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def agreement_table(results: dict[str, Any]) -> list[str]:
    """How often each peer's answer is the service's, and where the slots differ."""
    lines = [
        "| suppliers | PostGIS: same supplier ids (but the last) | same ids and slots"
        " | slots differing (in zones changing offset) | DST weekends: same ids and slots"
        " | slots differing (in zones changing offset) | rendered fields differing"
        " | Redis: same 20 ids in order | same set | ids found |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in results["sizes"]:
        if "peers" not in s:
            continue
        pg, redis = s["peers"]["postgis"], s["peers"]["redis"]["agreement"]
        now, dst = pg["agreement"], pg["dst_agreement"]
        lines.append(
            f"| {s['suppliers']:,} | {now['same_supplier_ids_share']:.1%}"
            f" ({now['same_supplier_ids_but_the_last_share']:.1%})"
            f" | {now['same_answer_share']:.1%} | {_slots(now)}"
            f" | {dst['same_answer_share']:.1%} | {_slots(dst)}"
            f" | {now['rendered_slots_differing']:,} of {now['rendered_slots_compared']:,}"
            f" | {redis['same_order_share']:.1%} | {redis['same_set_share']:.1%}"
            f" | {redis['ids_found_share']:.2%} |"
        )
    return lines


def _slots(agreement: dict[str, Any]) -> str:
    """Slots one side has and the other lacks, of how many, and how many in DST zones."""
    differing = agreement["slots_missing"] + agreement["slots_extra"]
    dst = agreement["slots_missing_in_dst_zones"] + agreement["slots_extra_in_dst_zones"]
    return f"{differing:,} of {agreement['slots']:,} ({dst:,})"


def _in_process_names(results: dict[str, Any]) -> list[str]:
    """In-process timings other than Match, brute force and zone resolution (the perf work's)."""
    known = {"match", "brute_force", "resolve_timezone", *NOT_TIMINGS}
    names: dict[str, None] = {}
    for s in results["sizes"]:
        for name, value in s["in_process"].items():
            if name not in known and isinstance(value, dict) and "median_ms" in value:
                names[name] = None
    return list(names)


def _at(size: dict[str, Any], path: KeyPath) -> Any:
    """The value at a path of keys and list positions into one size's results."""
    value: Any = size
    for key in path:
        value = value[key]
    return value


def _ms(stats: dict[str, float]) -> str:
    """Median and p99 in milliseconds."""
    return f"{stats['median_ms']:.2f} / {stats['p99_ms']:.2f} ms"


def plot(results: dict[str, Any], path: Path) -> None:
    """In-process latency, Match against its peers, and served throughput, against size."""
    sizes = [s["suppliers"] for s in results["sizes"]]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(18, 5))
    for name, label, colour in (
        ("match", "Catalog.match", "C0"),
        ("nearby", "its nearby step", "C1"),
        ("floor", "floor: STRtree + haversine", "C2"),
        ("brute_force", "brute force", "C3"),
    ):
        for stat, style in (("median_ms", "-o"), ("p99_ms", ":o")):
            values = [s["in_process"][name][stat] for s in results["sizes"]]
            left.plot(sizes, values, style, color=colour, label=f"{label} {stat[:-3]}")
    left.set(xscale="log", yscale="log", xlabel="suppliers", ylabel="ms per query")
    left.set_title("In-process Match (25 km, 7 days, 21 results)")
    left.legend()
    _plot_peers(middle, results)
    counts = sorted({run["workers"] for s in results["sizes"] for run in s["served"]})
    for k, (rpc, label) in enumerate({**RPC_NAMES, "floor": "serving floor"}.items()):
        for workers, style in zip(counts, ("-o", "--s", ":^"), strict=False):
            values = [
                next(r for r in s["served"] if r["workers"] == workers)["rpcs"][rpc]["calls_per_s"]
                for s in results["sizes"]
            ]
            right.plot(sizes, values, style, color=f"C{k}", label=f"{label}, {workers} worker(s)")
    right.set(xscale="log", yscale="log", xlabel="suppliers", ylabel="calls/s")
    right.set_title("Through gRPC on loopback, 8 concurrent callers")
    right.legend(fontsize="small")
    fig.suptitle(results["command"], fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_peers(axes: Any, results: dict[str, Any]) -> None:
    """Median latency (p99 dotted) of Match and each peer, sequential calls, by size."""
    sized = [s for s in results["sizes"] if "peers" in s]
    sizes = [s["suppliers"] for s in sized]
    series: list[tuple[str, KeyPath]] = [("in-process Match", ("in_process", "match"))]
    series += [(f"in-process {n}", ("in_process", n)) for n in _in_process_names(results)]
    series += list(PEERS)
    for k, (label, where) in enumerate(series):
        for stat, style in (("median_ms", "-o"), ("p99_ms", ":.")):
            values = [_at(s, where)[stat] for s in sized]
            axes.plot(
                sizes, values, style, color=f"C{k}", label=label if stat == "median_ms" else None
            )
    axes.set(xscale="log", yscale="log", xlabel="suppliers", ylabel="ms per call (p99 dotted)")
    axes.set_title("Match against its peers, same users, sequential calls")
    axes.legend(fontsize="small")
