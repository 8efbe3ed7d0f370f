"""Generate a large feed for load-time measurements by replicating the sample feed.

Each copy of a sample supplier gets a new id and is moved a few kilometres (longitude towards
0°, so it never leaves [-180, 180]); its availability is kept. Deterministic for a --seed.

    python scripts/make_scale_feed.py --count 1000000 --out /tmp/feed-1m.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHIFT_DEGREES = 0.05

Record = dict[str, Any]


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, required=True, help="number of suppliers")
    parser.add_argument("--sample", type=Path, default=ROOT / "data" / "suppliers.jsonl")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def sample_pairs(path: Path) -> tuple[Record, list[tuple[Record, Record]]]:
    """The sample's header and its (supplier, availability) pairs."""
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return records[0], list(zip(records[1::2], records[2::2], strict=True))


def moved(supplier: Record, *, dlat: float, dlng: float) -> Record:
    """A supplier shifted by (dlat, dlng) degrees, service-area polygon included."""
    location = supplier["location"]
    copy = {
        **supplier,
        "location": {
            "lat": round(location["lat"] + dlat, 5),
            "lng": round(location["lng"] + dlng, 5),
        },
    }
    area = supplier.get("service_area", {})
    if "polygon" in area:
        ring = [[round(x + dlng, 5), round(y + dlat, 5)] for x, y in area["polygon"]]
        copy["service_area"] = {"polygon": ring}
    return copy


def main() -> None:
    """Write --count suppliers, cycling through the sample."""
    args = parse_args()
    rng = random.Random(args.seed)
    header, pairs = sample_pairs(args.sample)
    with args.out.open("w", encoding="utf-8") as out:
        out.write(json.dumps(header) + "\n")
        for number in range(args.count):
            supplier, availability = pairs[number % len(pairs)]
            supplier_id = f"{supplier['id']}-{number // len(pairs)}"
            dlat = rng.uniform(-SHIFT_DEGREES, SHIFT_DEGREES)
            dlng = rng.uniform(0, SHIFT_DEGREES) * (-1 if supplier["location"]["lng"] > 0 else 1)
            copy = moved(supplier, dlat=dlat, dlng=dlng) | {"id": supplier_id}
            out.write(json.dumps(copy, ensure_ascii=False, separators=(",", ":")) + "\n")
            out.write(
                json.dumps({**availability, "supplier_id": supplier_id}, separators=(",", ":"))
                + "\n"
            )
    print(f"wrote {args.out}: {args.count} suppliers", file=sys.stderr)


if __name__ == "__main__":
    main()
