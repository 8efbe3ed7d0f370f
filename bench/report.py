"""The results as a Markdown table (the README's) and a PNG plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after the backend is chosen

RPC_NAMES = {"health": "no-op (health Check)", "match": "Match", "resolve": "ResolveTimezone"}


def table(results: dict[str, Any]) -> str:
    """Two Markdown tables: in-process work per size, then the served RPCs per worker count."""
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
        " | Match / no-op | ResolveTimezone calls/s | RSS / PSS per worker |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in results["sizes"]:
        for run in s["served"]:
            rpcs = run["rpcs"]
            workers = run["memory"]["workers"]
            rss = sum(w["rss_mib"] for w in workers) / len(workers)
            pss = sum(w["pss_mib"] for w in workers) / len(workers)
            lines.append(
                f"| {s['suppliers']:,} | {run['workers']} | {rpcs['health']['calls_per_s']:,.0f}"
                f" | {rpcs['match']['calls_per_s']:,.0f} | {_ms(rpcs['match'])}"
                f" | {rpcs['match']['calls_per_s'] / rpcs['health']['calls_per_s']:.0%}"
                f" | {rpcs['resolve']['calls_per_s']:,.0f} | {rss:,.0f} / {pss:,.0f} MiB |"
            )
    return "\n".join(lines)


def _ms(stats: dict[str, float]) -> str:
    """Median and p99 in milliseconds."""
    return f"{stats['median_ms']:.2f} / {stats['p99_ms']:.2f} ms"


def plot(results: dict[str, Any], path: Path) -> None:
    """In-process latency against size, and served throughput against size per worker count."""
    sizes = [s["suppliers"] for s in results["sizes"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
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
    counts = sorted({run["workers"] for s in results["sizes"] for run in s["served"]})
    for k, (rpc, label) in enumerate(RPC_NAMES.items()):
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
