"""Timing summaries and the memory of processes, read from /proc."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np


def summary(seconds: list[float]) -> dict[str, float]:
    """Median, p99 and mean of durations, in milliseconds, and how many there were."""
    ms = np.asarray(seconds) * 1000.0
    return {
        "n": len(ms),
        "median_ms": float(np.median(ms)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(statistics.fmean(ms)),
    }


def peak_rss_mib() -> float:
    """This process's peak resident set so far (VmHWM: unlike ru_maxrss, not inherited at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmHWM in /proc/self/status")


def memory_mib(pid: int) -> dict[str, float]:
    """A process's resident set (RSS) and proportional set (PSS: shared pages split fairly)."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        fields[name.rstrip(":")] = int(value) / 1024.0
    return {"rss_mib": fields["Rss"], "pss_mib": fields["Pss"]}
