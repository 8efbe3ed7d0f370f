"""Records the service's exact answers to a fixed set of varied calls, and compares two records.

    python -m devtools.answers record --feed data/suppliers.jsonl --out answers.jsonl
    python -m devtools.answers compare before.jsonl after.jsonl

A change meant to keep every answer (a faster engine, a new encoder) is checked by recording
before and after it and comparing: each line holds one call's request and the serialized bytes
of its response (or its status code and message), so "identical" means byte for byte.

The calls, drawn from a seeded generator around the feed's own suppliers: Match with every
order, modality set, filter, local hours (some across midnight), location form, radius, page
size and slots per supplier, over default windows and windows across the DST changes of both
hemispheres, then the next page of some; ListSlots likewise (some grouped by the user's day),
then their next pages; CheckSlots of ids the answers
gave, a few altered. A few suppliers carry real-time overrides. The clock is pinned and the
page-token secret fixed, so tokens too are the same bytes on every run.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import sys
from collections.abc import Callable, Generator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import grpc
from google.protobuf import text_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from matcher.engine.catalog import Catalog
from matcher.feeds import load_feed
from matcher.geo.timezones import TimezoneResolver
from matcher.model import Override, Slot, Supplier, Window
from matcher.paging import PageTokens
from matcher.service import Matching
from matcher.settings import Limits
from matcher_api.app import create_server
from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
#: Local days around which clocks change in 2027: US, EU, then southern spring and autumn.
DST_DAYS = (
    datetime(2027, 3, 14, tzinfo=UTC),
    datetime(2027, 3, 28, tzinfo=UTC),
    datetime(2027, 4, 4, tzinfo=UTC),
    datetime(2027, 9, 26, tzinfo=UTC),
    datetime(2027, 10, 3, tzinfo=UTC),
    datetime(2027, 10, 31, tzinfo=UTC),
    datetime(2027, 11, 7, tzinfo=UTC),
)
HOURS = (("09:00", "12:00"), ("18:00", "21:00"), ("22:00", "06:00"), ("00:00", "24:00"))
COUNTRIES = ("JP", "GB", "FR", "IN", "NZ", "ZA", "US")  # US spans zones: an error answer
GEOHASH = "0123456789bcdefghjkmnpqrstuvwxyz"
Call = tuple[str, Message]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    record = sub.add_parser("record", help="call the service and write its answers")
    record.add_argument("--feed", type=Path, default=Path("data/suppliers.jsonl"))
    record.add_argument("--out", type=Path, required=True)
    record.add_argument("--matches", type=int, default=300, help="Match calls (pages aside)")
    record.add_argument("--lists", type=int, default=100, help="ListSlots calls")
    record.add_argument("--seed", type=int, default=12)
    compare = sub.add_parser("compare", help="compare two records, call by call")
    compare.add_argument("before", type=Path)
    compare.add_argument("after", type=Path)
    return parser.parse_args(argv)


def overridden(catalog: Catalog, rng: random.Random) -> Catalog:
    """The catalogue with real-time overrides on a few suppliers, across a DST change or not."""
    changed = {}
    for s in rng.sample(catalog.suppliers, k=min(12, len(catalog.suppliers))):
        day = rng.choice((NOW, *DST_DAYS))
        start = day + timedelta(hours=rng.randrange(0, 48))
        window = Window(start=start, end=start + timedelta(hours=rng.randrange(1, 30)))
        slots = tuple(
            Slot(at, at + timedelta(minutes=rng.choice((15, 30, 45, 60))))
            for at in sorted(
                {window.start + timedelta(minutes=15 * rng.randrange(0, 96)) for _ in range(4)}
            )
            if at < window.end
        )
        override = Override(window=window, slots=slots)
        changed[s.id] = replace(s.availability, overrides=(*s.availability.overrides, override))
    return catalog.with_availability(changed)


def stamp(value: datetime) -> Timestamp:
    """A Timestamp message."""
    return Timestamp(seconds=int(value.timestamp()))


def time_window(rng: random.Random) -> pb.TimeWindow | None:
    """No window (the default), or one of 1 to 14 days starting near a DST change."""
    if rng.random() < 0.3:
        return None
    start = rng.choice(DST_DAYS) - timedelta(hours=rng.randrange(0, 72), minutes=rng.choice((0, 7)))
    end = start + timedelta(days=rng.randrange(1, 15))
    return pb.TimeWindow(start=stamp(start), end=stamp(end))


def location(rng: random.Random, s: Supplier) -> pb.Location:
    """Near a supplier, as a point (mostly) or a geohash; now and then a country."""
    roll = rng.random()
    if roll < 0.08:
        return pb.Location(country_code=rng.choice(COUNTRIES))
    lat = s.location.lat + rng.uniform(-0.15, 0.15)
    lng = s.location.lng + rng.uniform(-0.15, 0.15)
    lat, lng = max(-90.0, min(90.0, lat)), (lng + 180.0) % 360.0 - 180.0
    if roll < 0.2:
        return pb.Location(geohash=_geohash(lat, lng, precision=rng.randrange(4, 8)))
    return pb.Location(point=pb.LatLng(lat=lat, lng=lng))


def _geohash(lat: float, lng: float, *, precision: int) -> str:
    """A point's geohash."""
    lo, hi = [-90.0, -180.0], [90.0, 180.0]
    bits, code = 0, []
    for k in range(precision * 5):
        axis = 1 - k % 2  # longitude first
        value = lng if axis else lat
        mid = (lo[axis] + hi[axis]) / 2
        bits = bits * 2 + (value >= mid)
        lo[axis], hi[axis] = (mid, hi[axis]) if value >= mid else (lo[axis], mid)
        if k % 5 == 4:
            code.append(GEOHASH[bits])
            bits = 0
    return "".join(code)


def draw_hours_and_window(
    rng: random.Random, request: pb.MatchRequest | pb.ListSlotsRequest
) -> None:
    """Local hours (three times in ten) and a window (``time_window``), drawn into a request."""
    if rng.random() < 0.3:
        start, end = rng.choice(HOURS)
        request.local_hours.start, request.local_hours.end = start, end
    found = time_window(rng)
    if found is not None:
        request.window.CopyFrom(found)


def match_request(rng: random.Random, s: Supplier) -> pb.MatchRequest:
    """A Match near one supplier, every optional field drawn."""
    request = pb.MatchRequest(
        location=location(rng, s),
        radius_km=rng.choice((0.0, 0.0, 5.0, 25.0, 80.0)),
        order=rng.choice((pb.ORDER_UNSPECIFIED, pb.ORDER_BY_DISTANCE, pb.ORDER_BY_EARLIEST_SLOT)),
        page_size=rng.choice((0, 0, 3, 5, 20, 50)),
        max_slots_per_supplier=rng.choice((0, 0, 1, 3, 25)),
    )
    modalities = [pb.MODALITY_IN_PERSON, pb.MODALITY_HOME_VISIT, pb.MODALITY_REMOTE]
    request.modalities.extend(rng.sample(modalities, k=rng.choice((0, 0, 1, 1, 2, 3))))
    if rng.random() < 0.25:
        request.specialties.append(rng.choice(s.specialties))
    if rng.random() < 0.15:
        request.languages.append(rng.choice(s.languages))
    draw_hours_and_window(rng, request)
    return request


def list_request(rng: random.Random, s: Supplier, zones: list[str]) -> pb.ListSlotsRequest:
    """A ListSlots of one supplier for a user somewhere, every optional field drawn."""
    request = pb.ListSlotsRequest(
        supplier_id=s.id,
        page_size=rng.choice((0, 0, 5, 50)),
        group_by_user_day=rng.random() < 0.3,
    )
    if rng.random() < 0.5:
        request.timezone = rng.choice(zones)
    else:
        request.location.CopyFrom(location(rng, s))
    draw_hours_and_window(rng, request)
    return request


def calls(
    stub: pb_grpc.MatcherServiceStub, catalog: Catalog, args: argparse.Namespace
) -> Generator[tuple[Call, Callable[[], Message]], Message | None, None]:
    """Every call in order, each with a function making it; later calls use earlier answers."""
    rng = random.Random(args.seed)
    suppliers = catalog.suppliers
    zones = sorted({s.timezone for s in suppliers})
    slot_ids: list[str] = []
    for _ in range(args.matches):
        request = match_request(rng, rng.choice(suppliers))
        answer = yield ("Match", request), partial(stub.Match, request, timeout=60)
        if isinstance(answer, pb.MatchResponse):
            slot_ids.extend(slot.slot_id for m in answer.matches for slot in m.slots[:2])
            if answer.next_page_token and rng.random() < 0.4:
                following = pb.MatchRequest()
                following.CopyFrom(request)
                following.page_token = answer.next_page_token
                yield ("Match", following), partial(stub.Match, following, timeout=60)
    for _ in range(args.lists):
        listing = list_request(rng, rng.choice(suppliers), zones)
        answer = yield ("ListSlots", listing), partial(stub.ListSlots, listing, timeout=60)
        if isinstance(answer, pb.ListSlotsResponse) and answer.next_page_token:
            following_list = pb.ListSlotsRequest()
            following_list.CopyFrom(listing)
            following_list.page_token = answer.next_page_token
            yield ("ListSlots", following_list), partial(stub.ListSlots, following_list, timeout=60)
    for _ in range(60):
        ids = rng.sample(slot_ids, k=min(len(slot_ids), rng.randrange(1, 6)))
        if ids and rng.random() < 0.3:
            ids[0] = ids[0][:-2] + "AA"
        check = pb.CheckSlotsRequest(slot_ids=ids)
        yield ("CheckSlots", check), partial(stub.CheckSlots, check, timeout=60)


def record(args: argparse.Namespace) -> None:
    """Serves the feed on loopback, makes every call and writes one line per answer."""
    rng = random.Random(args.seed + 1)
    catalog = overridden(Catalog(load_feed(args.feed).suppliers), rng)
    limits = Limits()
    matching = Matching(
        catalog=lambda: catalog,
        resolver=TimezoneResolver(),
        tokens=PageTokens(b"answers", ttl=limits.page_token_ttl),
        limits=limits,
        clock=lambda: NOW,
    )
    server, port = create_server("127.0.0.1:0", matching=matching, reflect=False)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel, args.out.open("w") as out:
            stub = pb_grpc.MatcherServiceStub(channel)  # type: ignore[no-untyped-call]
            generator = calls(stub, catalog, args)
            answer: Message | None = None
            while True:
                try:
                    (rpc, request), call = generator.send(answer)
                except StopIteration:
                    break
                line: dict[str, str] = {
                    "rpc": rpc,
                    "request": text_format.MessageToString(request, as_one_line=True),
                }
                try:
                    answer = call()
                    line["response"] = base64.b64encode(answer.SerializeToString()).decode()
                except grpc.RpcError as error:
                    answer = None
                    line["status"] = f"{error.code().name}: {error.details()}"
                out.write(json.dumps(line) + "\n")
    finally:
        server.stop(grace=None)


def compare(args: argparse.Namespace) -> int:
    """Prints the first answers that differ; 0 when every one is identical."""
    before = args.before.read_text().splitlines()
    after = args.after.read_text().splitlines()
    differ = 0
    for k, (a, b) in enumerate(zip(before, after, strict=False)):
        if a == b:
            continue
        differ += 1
        if differ <= 3:
            print(f"call {k}: {json.loads(a)['rpc']} {json.loads(a)['request']}")
            for name, text in (("before", a), ("after", b)):
                print(f"--- {name}:\n{_shown(json.loads(text))[:3000]}")
    print(f"{len(before)} and {len(after)} calls, {differ} answers differ")
    return 0 if differ == 0 and len(before) == len(after) else 1


def _shown(line: dict[str, str]) -> str:
    """One recorded answer as text."""
    if "status" in line:
        return line["status"]
    message = {"Match": pb.MatchResponse, "ListSlots": pb.ListSlotsResponse}.get(
        line["rpc"], pb.CheckSlotsResponse
    )()
    message.ParseFromString(base64.b64decode(line["response"]))
    return text_format.MessageToString(message)


def main(argv: list[str] | None = None) -> int:
    """Records or compares."""
    args = parse_args(argv)
    if args.command == "record":
        record(args)
        return 0
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
