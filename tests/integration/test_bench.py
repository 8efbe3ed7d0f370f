"""The benchmark suite still runs end to end, at a toy size; its speed is not judged here."""

from __future__ import annotations

import json

from bench import replication
from bench.__main__ import main


def test_bench_at_a_toy_size_writes_well_formed_results_and_a_plot(tmp_path, capsys):
    out = tmp_path / "results"
    toy = ["--sizes", "500", "--queries", "20", "--workers", "1"]
    quick = ["--seconds", "0.5", "--warmup", "1.5"]
    main([*toy, *quick, "--no-replication", "--out", str(out), "--cache", str(tmp_path / "cache")])
    results = json.loads((out / "results.json").read_text())
    (size,) = results["sizes"]
    assert size["suppliers"] == 500
    assert size["in_process"]["match"]["n"] == 20
    assert {"median_ms", "p99_ms"} <= size["in_process"]["brute_force"].keys()
    (served,) = size["served"]
    assert served["workers"] == 1
    assert all(served["rpcs"][rpc]["n"] > 0 for rpc in ("health", "match", "resolve", "floor"))
    assert served["rpcs"]["floor"]["response_bytes"] > 0
    assert all(served["sequential"][rpc]["n"] > 0 for rpc in ("match", "floor"))
    assert all(served["rpcs"][rpc]["errors"] == {} for rpc in ("health", "match", "resolve"))
    crowd = served["crowd"]["match"]
    assert crowd["clients"] == 32 and crowd["n"] > 0 and crowd["errors"] == {}
    postgis, redis = size["peers"]["postgis"], size["peers"]["redis"]
    assert postgis["load"]["suppliers"] == 500
    assert postgis["match"]["n"] == 20
    assert postgis["agreement"]["queries"] == 20
    assert postgis["dst_agreement"]["queries"] == 5 * 4  # 20 // 5 points on each DST weekend
    assert redis["geosearch"]["n"] == 20
    assert redis["agreement"]["queries"] == 20
    assert size["profile"]["queries"] == 20
    assert size["profile"]["modules"] and size["profile"]["functions"]
    assert (out / "bench.png").read_bytes().startswith(b"\x89PNG")
    printed = capsys.readouterr().out
    assert "| 500 |" in printed
    assert "PostGIS" in printed
    assert "| 500 | 32 |" in printed  # the crowd's row
    assert "Where a served Match's time goes at 500 suppliers" in printed


def test_the_replication_bench_at_a_toy_size_writes_well_formed_results(tmp_path, capsys):
    out = tmp_path / "results"
    toy = ["--suppliers", "500", "--samples", "5", "--seconds", "1", "--clients", "1"]
    quick = ["--threads", "2", "--match-seconds", "1", "--match-rate", "20"]
    replication.main([*toy, *quick, "--out", str(out), "--cache", str(tmp_path / "cache")])
    results = json.loads((out / "replication.json").read_text())
    assert results["propagation"]["visible_elsewhere"]["n"] == 10  # 5 updates, 2 other replicas
    assert results["sustained"]["acknowledged"] > 0
    assert results["match"]["quiet"]["n"] > 0 and results["match"]["updating"]["n"] > 0
    assert len(results["memory"]) == 3
    assert "ack -> visible on another replica" in capsys.readouterr().out
