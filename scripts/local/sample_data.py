"""
Deterministic sample data for the local end-to-end run: one source per ingestion path.

  orders.jsonl          rows of the operational database's public.orders (the RDS extract's input)
  customers.json        items of the DynamoDB customers table (typed, as put_item takes them)
  clickstream.jsonl     events producers put on the Kinesis stream
  shipments_pages.json  the carrier API's pages (served on loopback to the real api-ingest handler)

Three days from 2024-01-01 (the first day partition projection covers, which the named queries
read). A few records in each source are wrong the way real data is wrong — a region the partition
spec does not allow, a missing required value, an unparseable timestamp, a day before the
projection range, a retransmitted duplicate — so the run shows quarantine and deduplication.
Same seed, same bytes: a second run produces the same data.

  python scripts/local/sample_data.py <out-dir>
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

SEED = 20240101
REGIONS = ["eu", "us", "apac"]
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]


def ts(rng: random.Random, day: str) -> str:
    return f"{day}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z"


def orders(rng: random.Random) -> list[dict]:
    rows = []
    for i in range(1, 241):
        day = DAYS[i % 3]
        placed = ts(rng, day)
        rows.append({
            "order_id": f"O{i:05d}",
            "customer_id": f"C{rng.randrange(1, 101):04d}",
            "region": rng.choice(REGIONS),
            "status": rng.choice(["placed", "paid", "shipped", "cancelled"]),
            "amount": f"{rng.randrange(500, 50000) / 100:.2f}",
            "currency": rng.choice(["EUR", "USD"]),
            "order_ts": placed,
            "updated_at": placed,
        })
    # An order changed later in the day: the extract sees two versions, processed keeps the latest.
    changed = dict(rows[10], status="cancelled", updated_at=rows[10]["order_ts"][:11] + "23:59:59Z")
    rows.append(changed)
    # Wrong the way real data is: a region outside the partition spec, a missing customer,
    # and an order dated before the first projected day (Athena could never see it).
    rows.append(dict(rows[20], order_id="O90001", region="mars"))
    rows.append(dict(rows[21], order_id="O90002", customer_id=None))
    rows.append(dict(rows[22], order_id="O90003", order_ts="2023-12-31T10:00:00Z", updated_at="2023-12-31T10:00:00Z"))
    return rows


def customers(rng: random.Random) -> list[dict]:
    items = []
    for i in range(1, 101):
        day = DAYS[i % 3]
        created = ts(rng, day)
        item = {
            "customer_id": f"C{i:04d}",
            "email": f"customer{i}@example.com",
            "full_name": f"Customer {i}",
            "region": rng.choice(REGIONS),
            "created_at": created,
            "updated_at": created,
        }
        if i % 4:
            item["tier"] = rng.choice(["bronze", "silver", "gold"])
        items.append(item)
    items.append({**items[5], "customer_id": "C9001", "region": "antarctica"})
    bad = {**items[6], "customer_id": "C9002"}
    del bad["email"]
    items.append(bad)
    return items


def clickstream(rng: random.Random) -> list[dict]:
    events = []
    for i in range(1, 401):
        day = DAYS[i % 3]
        events.append({
            "event_id": f"E{i:06d}",
            "session_id": f"S{rng.randrange(1, 80):04d}",
            "customer_id": f"C{rng.randrange(1, 101):04d}" if rng.random() < 0.6 else None,
            "page": rng.choice(["/", "/search", "/product", "/cart", "/checkout"]),
            "action": rng.choice(["view", "click", "add_to_cart", "checkout"]),
            "region": rng.choice(REGIONS),
            "event_time": ts(rng, day),
        })
    # A producer retry (same event twice), a clock that sends garbage, a region typo.
    events.append(dict(events[7]))
    events.append(dict(events[8], event_id="E900001", event_time="yesterday at noon"))
    events.append(dict(events[9], event_id="E900002", region="EU"))
    return events


def shipments(rng: random.Random) -> list[dict]:
    items = []
    for i in range(1, 121):
        day = DAYS[i % 3]
        shipped = ts(rng, day)
        items.append({
            "shipment_id": f"SH{i:05d}",
            "order_id": f"O{rng.randrange(1, 241):05d}",
            "carrier": rng.choice(["dhl", "ups", "fedex"]),
            "status": rng.choice(["in_transit", "delivered", "returned"]),
            "region": rng.choice(REGIONS),
            "weight_kg": round(rng.uniform(0.2, 30.0), 2),
            "shipped_at": shipped,
            "updated_at": shipped,
        })
    # A tracking update for one parcel (a newer version), and a record without its order.
    items.append(dict(items[3], status="delivered", updated_at=items[3]["shipped_at"][:11] + "23:00:00Z"))
    bad = dict(items[4], shipment_id="SH90001")
    del bad["order_id"]
    items.append(bad)
    pages = []
    size = 40
    for start in range(0, len(items), size):
        number = start // size + 1
        last = start + size >= len(items)
        pages.append({"items": items[start:start + size], "next": None if last else f"/v1/shipments?page={number + 1}"})
    return pages


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    with (out / "orders.jsonl").open("w") as f:
        for row in orders(rng):
            f.write(json.dumps(row, sort_keys=True) + "\n")
    (out / "customers.json").write_text(json.dumps(customers(rng), indent=1, sort_keys=True) + "\n")
    with (out / "clickstream.jsonl").open("w") as f:
        for event in clickstream(rng):
            f.write(json.dumps(event, sort_keys=True) + "\n")
    (out / "shipments_pages.json").write_text(json.dumps(shipments(rng), indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
