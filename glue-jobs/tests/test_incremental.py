"""Incremental pipeline runs through the real jobs, as the state machine starts them: raw → processed
with `--manifest_path` (the execution's manifest), then processed → consumer with `--partitions_path`
(that run's summary). Exactly-once effect under redelivery, reordering, overlap and late versions;
what a run reads; unreadable objects."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from dataplat_glue import manifest
from support import (
    hashes,
    line,
    order,
    quarantine_records,
    raw_to_processed,
    read_partitioned,
    run_job,
    summary_file,
    write_lines,
    write_manifest,
)

DAY1, DAY2, DAY30 = "2024-05-01", "2024-05-02", "2024-05-30"


def land(root: Path, dataset: str, day: str, name: str, lines: list[str]) -> str:
    """Writes a raw object where every source puts it (<dataset>/dt=<event day>/...); returns its key."""
    key = f"{dataset}/dt={day}/{name}"
    write_lines(root / key, lines)
    return key


def pipeline(
    spark: SparkSession,
    contract: dict,
    work: Path,
    run_id: str,
    keys: list[str] | None = None,
    reprocess: dict | None = None,
) -> tuple[dict, dict]:
    """One execution: manifest → raw_to_processed → processed_to_consumer over the touched partitions."""
    from dataplat_glue import processed_to_consumer

    m = write_manifest(work / "manifests" / f"{run_id}.json", keys, reprocess)
    first = raw_to_processed(
        spark, contract, None, work / "out", run_id=run_id, manifest_path=m, raw_root=work / "raw" / contract["name"]
    )
    second = run_job(
        processed_to_consumer,
        spark,
        contract,
        input_path=work / "out" / "processed",
        output_path=work / "out" / "consumer",
        partitions_path=summary_file(work / "out", run_id),
        run_id=run_id,
        summary_path=work / "out" / "consumer-runs" / f"{run_id}.json",
    )
    return first, second


def state(work: Path) -> dict[str, dict[str, str]]:
    """Every processed and consumer file, byte for byte."""
    return {zone: hashes(work / "out" / zone) for zone in ("processed", "consumer")}


def stamps(work: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime in ns) of every data file: a rewritten file gets a new inode (moved in) and mtime."""
    out = {}
    for zone in ("processed", "consumer"):
        for path in (work / "out" / zone).rglob("*.parquet"):
            st = path.stat()
            out[str(path.relative_to(work / "out"))] = (st.st_ino, st.st_mtime_ns)
    return out


def orders_day(day: str, ids: range, **changes) -> list[str]:
    base = {"order_ts": f"{day}T10:00:00Z", "updated_at": f"{day}T10:00:00Z"}
    return [line(order(n, **{**base, "region": ("eu", "us")[n % 2], **changes})) for n in ids]


class TestExactlyOnce:
    """Each case converges on the files one run over everything gives, byte for byte; partitions a
    run does not touch keep their files (same inode and mtime: not rewritten)."""

    @pytest.fixture
    def batches(self, tmp_path: Path) -> tuple[Path, list[str], list[str]]:
        raw = tmp_path / "raw"
        a = [
            land(raw, "orders", DAY1, "a.json.gz", orders_day(DAY1, range(1, 6))),
            land(raw, "orders", DAY2, "a.json.gz", orders_day(DAY2, range(10, 14))),
        ]
        b = [
            land(
                raw,
                "orders",
                DAY1,
                "b.json.gz",
                orders_day(DAY1, range(4, 9), status="paid", updated_at=f"{DAY1}T12:00:00Z"),
            )
        ]
        return raw, a, b

    def copy(self, tmp_path: Path, raw: Path, name: str) -> Path:
        import shutil

        work = tmp_path / name
        shutil.copytree(raw, work / "raw")
        return work

    def test_redelivery_order_and_overlap_converge(
        self,
        spark: SparkSession,
        contracts: dict[str, dict],
        tmp_path: Path,
        batches: tuple[Path, list[str], list[str]],
    ) -> None:
        contract = contracts["prod"]["orders"]
        raw, a, b = batches
        once = self.copy(tmp_path, raw, "once")
        pipeline(spark, contract, once, "all", a + b)
        expected = state(once)

        # The same batch delivered twice, then the other: the second delivery rewrites the same bytes.
        twice = self.copy(tmp_path, raw, "twice")
        pipeline(spark, contract, twice, "r1", a)
        after_first = state(twice)
        pipeline(spark, contract, twice, "r1-again", a)
        assert state(twice) == after_first
        pipeline(spark, contract, twice, "r2", b)
        assert state(twice) == expected

        # The batches in the other order; and an overlapping batch (b again, with a's day-2 object).
        reordered = self.copy(tmp_path, raw, "reordered")
        pipeline(spark, contract, reordered, "r1", b)
        before = stamps(reordered)
        summary, consumer = pipeline(spark, contract, reordered, "r2", a)
        assert state(reordered) == expected
        stamps_before_overlap = stamps(reordered)
        summary, consumer = pipeline(spark, contract, reordered, "r3", [a[1]] + b)
        assert state(reordered) == expected
        # r3 touched dt=DAY1 and dt=DAY2 (both regions): every file was rewritten with the same bytes.
        assert summary["touched"] == [
            {"dt": DAY1, "region": "eu"},
            {"dt": DAY1, "region": "us"},
            {"dt": DAY2, "region": "eu"},
            {"dt": DAY2, "region": "us"},
        ]
        assert [p["path"] for p in consumer["consumer"]["partitions"]] == [
            "dt=2024-05-01/region=eu/",
            "dt=2024-05-01/region=us/",
            "dt=2024-05-02/region=eu/",
            "dt=2024-05-02/region=us/",
        ]
        assert before and stamps_before_overlap

    def test_a_late_version_of_a_day_1_record_lands_on_day_30(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        contract = contracts["prod"]["orders"]
        raw = tmp_path / "raw"
        day1 = land(raw, "orders", DAY1, "a.json.gz", orders_day(DAY1, range(1, 5)))
        day2 = land(raw, "orders", DAY2, "a.json.gz", orders_day(DAY2, range(10, 12)))
        # Day 30: order 2 (placed on day 1, region us) changes; the source still keys it by its order day.
        late = land(
            raw,
            "orders",
            DAY1,
            "late.json.gz",
            [line(order(2, region="us", status="cancelled", updated_at=f"{DAY30}T09:00:00Z"))],
        )
        pipeline(spark, contract, tmp_path, "d1", [day1])
        pipeline(spark, contract, tmp_path, "d2", [day2])
        untouched = {k: v for k, v in stamps(tmp_path).items() if "region=us" not in k or DAY1 not in k}
        summary, consumer = pipeline(spark, contract, tmp_path, "d30", [late])
        # Only the one partition the late version lives in was rewritten, in processed and consumer.
        assert summary["touched"] == [{"dt": DAY1, "region": "us"}]
        assert consumer["input"]["partitions"] == [{"dt": DAY1, "region": "us"}]
        assert {k: v for k, v in stamps(tmp_path).items() if k in untouched} == untouched
        rows = {r["order_id"]: r["status"] for r in read_partitioned(tmp_path / "out" / "processed")}
        assert rows["o-002"] == "cancelled" and len(rows) == 6
        # Same files as processing all three landings in one run.
        import shutil

        shutil.copytree(raw, tmp_path / "once" / "raw")
        pipeline(spark, contract, tmp_path / "once", "all", [day1, day2, late])
        assert state(tmp_path) == state(tmp_path / "once")

    def test_current_state_supersedes_a_stored_version_of_a_profile(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        # A profile is partitioned by its sign-up time, which changes never: the day-30 version
        # replaces the day-1 one in place, and processed holds one row per customer.
        contract = contracts["prod"]["customers"]
        assert contract["processed"] == "current-state" and contract["eventTimeColumn"] != contract["versionColumn"]

        def profile(n: int, updated: str, tier: str) -> str:
            return line(
                {
                    "customer_id": f"C{n}",
                    "email": f"c{n}@example.com",
                    "full_name": None,
                    "region": "eu",
                    "tier": tier,
                    "created_at": f"{DAY1}T08:00:00Z",
                    "updated_at": updated,
                }
            )

        raw = tmp_path / "raw"
        first = land(
            raw,
            "customers",
            DAY1,
            "a.json.gz",
            [profile(1, f"{DAY1}T08:00:00Z", "bronze"), profile(2, f"{DAY1}T08:00:00Z", "bronze")],
        )
        later = land(raw, "customers", DAY1, "b.json.gz", [profile(1, f"{DAY30}T08:00:00Z", "gold")])
        pipeline(spark, contract, tmp_path, "d1", [first])
        pipeline(spark, contract, tmp_path, "d30", [later])
        assert sorted((r["customer_id"], r["tier"]) for r in read_partitioned(tmp_path / "out" / "processed")) == [
            ("C1", "gold"),
            ("C2", "bronze"),
        ]
        assert sorted((r["customer_id"], r["tier"]) for r in read_partitioned(tmp_path / "out" / "consumer")) == [
            ("C1", "gold"),
            ("C2", "bronze"),
        ]
        # The older version redelivered after the newer one changes nothing.
        before = state(tmp_path)
        summary, _ = pipeline(spark, contract, tmp_path, "d1-again", [first])
        assert state(tmp_path) == before
        assert summary["quarantined"]["byReason"] == {"duplicate_superseded": 1}

    def test_an_event_log_keeps_every_version(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        contract = {**contracts["dev"]["orders"], "processed": "event-log"}
        raw = tmp_path / "raw"
        v1 = line(order(1))
        key = land(
            raw, "orders", DAY1, "a.json.gz", [v1, line(order(1, status="paid", updated_at=f"{DAY1}T11:00:00Z")), v1]
        )
        summary, _ = pipeline(spark, contract, tmp_path, "r1", [key])
        assert sorted(r["status"] for r in read_partitioned(tmp_path / "out" / "processed")) == ["paid", "placed"]
        # The exact repeat of version 1 collapsed: recorded once, at its line.
        [q] = quarantine_records(tmp_path / "out" / "quarantine")
        assert (q["reason"], q["line"], q["source_key"]) == ("duplicate_superseded", 3, key)


class TestWhatARunReads:
    def test_the_manifest_bounds_what_is_read(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        raw = tmp_path / "raw"
        key = land(raw, "orders", DAY1, "a.json.gz", orders_day(DAY1, range(1, 3)))
        # A broken object beside it, not in the manifest: never opened, so never quarantined.
        (raw / "orders" / f"dt={DAY1}" / "broken.json.gz").write_bytes(b"\x1f\x8b\x08garbage")
        summary, _ = pipeline(spark, contracts["dev"]["orders"], tmp_path, "r1", [key])
        assert [o["key"] for o in summary["objects"]["byObject"]] == [key]
        assert summary["input"] == {
            "manifest": str(tmp_path / "manifests" / "r1.json"),
            "request": {"kind": "batch", "keys": 1},
            "objects": 1,
            "bytes": (raw / key).stat().st_size,
            "records": 2,
        }

    def test_a_reprocess_range_lists_only_its_days(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        raw = tmp_path / "raw"
        keys = [land(raw, "orders", d, "a.json.gz", orders_day(d, range(1, 3))) for d in (DAY1, DAY2, "2024-05-03")]
        (raw / "orders" / "dt=2024-05-04").mkdir()
        (raw / "orders" / "dt=2024-05-04" / "broken.json.gz").write_bytes(b"\x1f\x8b\x08garbage")
        summary, consumer = pipeline(
            spark, contracts["dev"]["orders"], tmp_path, "re", reprocess={"from": DAY2, "to": "2024-05-03"}
        )
        assert [o["key"] for o in summary["objects"]["byObject"]] == keys[1:]
        assert summary["touched"] == [{"dt": DAY2}, {"dt": "2024-05-03"}]
        assert summary["input"]["request"] == {"kind": "reprocess", "from": DAY2, "to": "2024-05-03"}
        everything, _ = pipeline(spark, contracts["dev"]["orders"], tmp_path, "all", reprocess={"all": True})
        assert [o["key"] for o in everything["objects"]["byObject"]] == keys + ["orders/dt=2024-05-04/broken.json.gz"]
        assert everything["objects"]["unreadable"] == 1

    def test_an_empty_touched_list_rebuilds_nothing(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        key = land(tmp_path / "raw", "orders", DAY1, "empty.json.gz", [])
        summary, consumer = pipeline(spark, contracts["dev"]["orders"], tmp_path, "r1", [key])
        assert summary["touched"] == [] and summary["objects"]["empty"] == 1
        assert consumer["consumer"]["partitions"] == [] and consumer["input"]["partitions"] == []
        assert not (tmp_path / "out" / "consumer").exists()

    def test_argument_errors(self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path) -> None:
        contract = contracts["dev"]["orders"]
        with pytest.raises(ValueError, match=r"give exactly one of --manifest_path .* \(neither was given\)"):
            raw_to_processed(spark, contract, None, tmp_path / "out")
        with pytest.raises(ValueError, match=r"\(both were given\)"):
            raw_to_processed(
                spark, contract, tmp_path, tmp_path / "out", manifest_path=tmp_path / "m.json", raw_root=tmp_path
            )
        with pytest.raises(ValueError, match="--raw_root is missing"):
            raw_to_processed(spark, contract, None, tmp_path / "out", manifest_path=tmp_path / "m.json")
        m = write_manifest(tmp_path / "m.json", ["other/dt=2024-05-01/a.json.gz"])
        with pytest.raises(
            manifest.ManifestError, match=r"1 key\(s\) outside the dataset's raw prefix orders/.*nothing was read"
        ):
            raw_to_processed(
                spark, contract, None, tmp_path / "out", manifest_path=m, raw_root=tmp_path / "raw" / "orders"
            )


class TestManifestShapes:
    def test_a_batch_an_event_and_reprocess_requests(self) -> None:
        assert manifest.parse('[{"key": "d/b"}, {"key": "d/a"}, {"key": "d/b"}]') == manifest.Request(
            kind="batch", keys=("d/b", "d/a")
        )
        event = {
            "detail-type": "Object Created",
            "detail": {"bucket": {"name": "raw"}, "object": {"key": "d/x.gz", "size": 10}},
        }
        assert manifest.parse(json.dumps(event)) == manifest.Request(kind="event", keys=("d/x.gz",))
        r = manifest.parse('{"reprocess": {"from": "2024-02-28", "to": "2024-03-01"}}')
        assert r.day_list() == ["2024-02-28", "2024-02-29", "2024-03-01"]
        assert manifest.parse('{"reprocess": {"all": true}}') == manifest.Request(kind="reprocess", all=True)

    @pytest.mark.parametrize(
        "text, message",
        [
            ("nope", "not valid JSON"),
            ('[{"key": ""}]', 'item 0 must be an object with a non-empty string "key"'),
            (
                '{"reprocess": {"from": "2024-05-02", "to": "2024-05-01"}}',
                "reprocess.from 2024-05-02 is after reprocess.to 2024-05-01",
            ),
            ('{"reprocess": {"from": "2024-02-30", "to": "2024-03-01"}}', "reprocess.from must be a real day"),
            ('{"reprocess": {"from": "2000-01-01", "to": "2024-03-01"}}', "spans 8827 days"),
            ('{"reprocess": {"all": true, "from": "2024-01-01"}}', "names both all and a range"),
            ('{"detail": {}}', "without detail.object.key or reprocess"),
        ],
    )
    def test_errors_name_the_problem(self, text: str, message: str) -> None:
        with pytest.raises(manifest.ManifestError, match=message):
            manifest.parse(text, "manifest m.json")


class TestUnreadableObjects:
    def test_an_unreadable_object_is_set_aside_and_its_siblings_processed(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        raw = tmp_path / "raw"
        good = land(raw, "orders", DAY1, "good.json.gz", orders_day(DAY1, range(1, 4)))
        whole = gzip.compress(("\n".join(orders_day(DAY1, range(10, 200))) + "\n").encode(), mtime=0)
        truncated = f"orders/dt={DAY1}/truncated.json.gz"
        (raw / truncated).write_bytes(whole[: len(whole) // 2])
        corrupt = f"orders/dt={DAY1}/corrupt.json.gz"
        (raw / corrupt).write_bytes(b"this is not gzip at all")
        latin1 = f"orders/dt={DAY1}/latin1.json"
        (raw / latin1).write_bytes((line(order(20, customer_id="Zoë")) + "\n").encode("latin-1"))
        empty = land(raw, "orders", DAY1, "empty.json", [])
        mixed = land(raw, "orders", DAY1, "mixed.json", [line(order(30)), "not json", line(order(31))])
        summary, _ = pipeline(
            spark, contracts["dev"]["orders"], tmp_path, "r1", [good, truncated, corrupt, latin1, empty, mixed]
        )

        by_key = {o["key"]: o for o in summary["objects"]["byObject"]}
        assert {k: (o["status"], o["records"], o["quarantined"]) for k, o in by_key.items()} == {
            good: ("read", 3, 0),
            mixed: ("read", 3, 1),
            empty: ("empty", 0, 0),
            truncated: ("unreadable", 0, 1),
            corrupt: ("unreadable", 0, 1),
            latin1: ("unreadable", 0, 1),
        }
        assert sorted(r["order_id"] for r in read_partitioned(tmp_path / "out" / "processed")) == [
            "o-001",
            "o-002",
            "o-003",
            "o-030",
            "o-031",
        ]
        # input = processed + quarantined lines, plus the objects set aside.
        assert summary["input"]["records"] == 6 == summary["processed"]["records"] + 1
        assert summary["quarantined"]["records"] == 4 and summary["quarantined"]["byReason"] == {
            "unreadable_object": 3,
            "malformed_json": 1,
        }
        aside = {a["key"]: a for a in summary["setAside"]}
        assert sorted(aside) == sorted([truncated, corrupt, latin1])
        assert aside[truncated]["error"] == "java.io.EOFException: Unexpected end of input stream"
        assert aside[latin1]["error"] == "not UTF-8: 1 of 1 line(s) hold bytes that are not valid UTF-8"
        for a in aside.values():
            assert "\n" not in a["error"] and "\tat " not in a["error"] and a["size"] == (raw / a["key"]).stat().st_size
        records = {(q["source_key"], q["reason"]): q for q in quarantine_records(tmp_path / "out" / "quarantine")}
        assert records[(truncated, "unreadable_object")]["size"] == (raw / truncated).stat().st_size
        assert records[(truncated, "unreadable_object")]["message"] == aside[truncated]["error"]
        assert (records[(mixed, "malformed_json")]["line"], records[(mixed, "malformed_json")]["record"]) == (
            2,
            "not json",
        )

    def test_a_redelivered_batch_records_each_rejected_line_once(
        self, spark: SparkSession, contracts: dict[str, dict], tmp_path: Path
    ) -> None:
        raw = tmp_path / "raw"
        a = land(raw, "orders", DAY1, "a.json", [line(order(1)), "oops", line(order(2, amount="x"))])
        b = land(raw, "orders", DAY2, "b.json", ["{]"])
        pipeline(spark, contracts["dev"]["orders"], tmp_path, "r1", [a, b])
        first = hashes(tmp_path / "out" / "quarantine" / "objects")
        pipeline(spark, contracts["dev"]["orders"], tmp_path, "r2", [a])
        # The object's file was rewritten with the same rows; b's rejects (another run's) are kept.
        assert hashes(tmp_path / "out" / "quarantine" / "objects") == first
        assert sorted((q["source_key"], q["line"]) for q in quarantine_records(tmp_path / "out" / "quarantine")) == [
            (a, 2),
            (a, 3),
            (b, 1),
        ]
        assert sorted(p.name for p in (tmp_path / "out" / "quarantine" / "runs").iterdir()) == ["r1.json", "r2.json"]
