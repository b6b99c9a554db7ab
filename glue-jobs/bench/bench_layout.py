"""Benchmark: the lake's data layout as Athena would pay for it, with DuckDB as the reader. Not a test.

    .venv/bin/python glue-jobs/bench/bench_layout.py [--records 900000] [--days 90] [--runs 3] [--json out.json]

Ninety days of orders go through the platform's own jobs, the way they arrive: the table dump is
extracted by `rds_extract` in three chronological batches plus a batch of late updates to earlier
days (raw: gzip NDJSON, one file per partition per run), each batch goes through `raw_to_processed`
(processed: Parquet, merged into the partitions it touches), then `processed_to_consumer` builds
the consumer table (`orders_daily`). Then, per zone:

- **bytes read by a one-day query** (the same question of each zone: orders and revenue by region
  on one day), on a fresh DuckDB connection with its external file cache off. Bytes read are what
  the process actually read from files during the query: the `rchar` counter of /proc/self/io
  (every byte read()/pread() returned), taken before and after, less what the same query reads
  when its day matches no partition: DuckDB reads the footer of the glob's first file to bind the
  schema (Athena takes it from the catalog) and its cgroup limits, ~0.1-1.7 KB; kept in the JSON.
  That is a real measure of what the reader pulled — footers and only the column chunks it needed
  for Parquet, whole files for JSON — after partition pruning (DuckDB prunes hive partitions from
  the `dt` filter before opening files). DuckDB's own `total_bytes_read` profiling metric is not
  used: it counts 60 bytes for a JSON scan. Each query runs once unmeasured first (Python imports
  its result types then). The files the pruned query could open, and their total size, are
  reported alongside;
- **size** of each zone against the raw zone;
- **files per partition** of each zone.

Prints a table and writes the figures as JSON (`--json`).
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

# Run as a script: the package is imported from glue-jobs/, this folder's parent, the other bench from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_raw_to_processed import contract_for, generate
from dataplat_glue import processed_to_consumer, raw_to_processed, rds_extract
from dataplat_glue.contract import JobContract
from dataplat_glue.spark import local_session

START = "2024-03-01"
AS_OF = "2024-06-30T00:00:00Z"


def rchar() -> int:
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise RuntimeError("/proc/self/io has no rchar line")


def files_under(root: Path, suffix: str) -> list[Path]:
    return sorted(
        p for p in root.rglob(f"*{suffix}") if not any(part.startswith("_") for part in p.relative_to(root).parts)
    )


def zone_stats(root: Path, suffix: str, depth: int) -> dict[str, Any]:
    files = files_under(root, suffix)
    partitions: dict[str, int] = {}
    for f in files:
        partitions["/".join(f.relative_to(root).parts[:depth])] = (
            partitions.get("/".join(f.relative_to(root).parts[:depth]), 0) + 1
        )
    per = list(partitions.values()) or [0]
    size = sum(f.stat().st_size for f in files)
    return {
        "files": len(files),
        "bytes": size,
        "partitions": len(partitions),
        "filesPerPartitionMax": max(per),
        "filesPerPartitionMean": round(statistics.mean(per), 3),
        "meanFileBytes": round(size / max(1, len(files))),
    }


def split_batches(dump: Path, out: Path, days: int, batches: int, late_share: float, seed: int = 11) -> list[Path]:
    """The table dump as it would be extracted over time: `batches` chronological slices, then a batch
    of late updates (a newer `updated_at`) to orders of earlier days."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    rows = [line for f in sorted(dump.glob("*.json")) for line in f.read_text(encoding="utf-8").splitlines()]
    by_batch: list[list[str]] = [[] for _ in range(batches)]
    days_per = -(-days // batches)
    first = datetime.date.fromisoformat(START)
    late: list[str] = []
    for line in rows:
        row = json.loads(line)
        day = (datetime.date.fromisoformat(row["order_ts"][:10]) - first).days
        by_batch[min(batches - 1, day // days_per)].append(line)
        if rng.random() < late_share and row["amount"] != "n/a":
            late.append(
                json.dumps(
                    {**row, "status": "refunded", "updated_at": "2024-06-29T12:00:00.000000Z"}, separators=(",", ":")
                )
            )
    paths = []
    for i, lines in enumerate([*by_batch, late]):
        p = out / f"batch-{i}.json"
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(p)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=900_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=3, help="query runs per zone (bytes are medians, as are times)")
    parser.add_argument("--env", default="prod")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--workdir", type=Path, help="keep the generated lake here (default: a temp dir, removed)")
    ns = parser.parse_args()

    import duckdb  # only the benchmark needs it: imported when it runs, not with the module

    work = ns.workdir or Path(tempfile.mkdtemp(prefix="layout-bench-"))
    lake = work / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    raw, processed, consumer = lake / "raw" / "orders", lake / "processed" / "orders", lake / "consumer"
    contract_json = contract_for(ns.env, "orders")
    contract = JobContract.from_dict(contract_json)
    consumer_root = consumer / contract.consumer_table
    depth = len(contract.partition_names)
    cj = json.dumps(contract_json)

    t = time.perf_counter()
    dump = work / "dump"
    shutil.rmtree(dump, ignore_errors=True)
    generate(dump, ns.records, 4, days=ns.days, start=START, every_region_every_day=True)
    batches = split_batches(dump, work / "batches", ns.days, batches=3, late_share=0.01)
    print(f"generated {ns.records:,} orders over {ns.days} days in {time.perf_counter() - t:.1f}s", file=sys.stderr)

    spark = local_session(app="layout-bench", cores=os.cpu_count() or 2, shuffle_partitions=8, driver_memory="4g")
    summaries: list[dict[str, Any]] = []
    t = time.perf_counter()
    for i, batch in enumerate(batches):
        run_id = f"batch-{i}"
        rds_extract.main(
            [
                "--local",
                "--dataset_contract",
                cj,
                "--input_path",
                str(batch),
                "--output_path",
                str(raw),
                "--run_id",
                run_id,
            ],
            spark=spark,
        )
        summaries.append(
            raw_to_processed.main(
                [
                    "--local",
                    "--dataset_contract",
                    cj,
                    "--input_path",
                    str(raw / f"*/*/part-{run_id}-*.json.gz" if depth == 2 else raw / f"*/part-{run_id}-*.json.gz"),
                    "--output_path",
                    str(processed),
                    "--quarantine_path",
                    str(lake / "quarantine" / "orders" / run_id),
                    "--summary_path",
                    str(lake / "quarantine" / "orders" / run_id / "_summary.json"),
                    "--run_id",
                    run_id,
                    "--as_of",
                    AS_OF,
                ],
                spark=spark,
            )
        )
    consumer_summary = processed_to_consumer.main(
        [
            "--local",
            "--dataset_contract",
            cj,
            "--input_path",
            str(processed),
            "--output_path",
            str(consumer_root),
            "--run_id",
            "consumer",
        ],
        spark=spark,
    )
    spark.stop()
    print(
        f"ran rds_extract, raw_to_processed ×{len(batches)}, processed_to_consumer in {time.perf_counter() - t:.1f}s",
        file=sys.stderr,
    )

    zones = {
        "raw": zone_stats(raw, ".json.gz", depth),
        "processed": zone_stats(processed, ".parquet", depth),
        "consumer": zone_stats(consumer_root, ".parquet", depth),
    }
    zones["raw"]["uncompressedBytes"] = sum(len(gzip.decompress(f.read_bytes())) for f in files_under(raw, ".json.gz"))

    # The one-day question, asked of each zone; its middle day.
    day = (datetime.date.fromisoformat(START) + datetime.timedelta(days=ns.days // 2)).isoformat()
    pattern = "/".join(["*"] * depth)
    raw_columns = {c.name: "VARCHAR" for c in contract.columns}
    # Orders and revenue per region and status on one day: each zone answers it from its own columns
    # (consumer: the pre-aggregated order_count and revenue; processed: status and amount; raw: every
    # line of the day, amounts as text).
    queries: dict[str, str] = {
        "raw": (
            f"SELECT region, status, count(*) AS orders, sum(TRY_CAST(amount AS DECIMAL(12,2))) AS revenue "
            f"FROM read_json('{raw}/{pattern}/*.json.gz', format='newline_delimited', columns={json.dumps(raw_columns)}, "
            f"hive_partitioning=true, hive_types_autocast=false) WHERE dt = '{day}' GROUP BY ALL ORDER BY ALL"
        ),
        "processed": (
            f"SELECT region, status, count(*) AS orders, sum(amount) AS revenue FROM read_parquet('{processed}/{pattern}/*.parquet', "
            f"hive_partitioning=true, hive_types_autocast=false) WHERE dt = '{day}' GROUP BY ALL ORDER BY ALL"
        ),
        "consumer": (
            f"SELECT region, status, sum(order_count) AS orders, sum(revenue) AS revenue FROM read_parquet('{consumer_root}/{pattern}/*.parquet', "
            f"hive_partitioning=true, hive_types_autocast=false) WHERE dt = '{day}' GROUP BY ALL ORDER BY ALL"
        ),
    }
    suffix = {"raw": ".json.gz", "processed": ".parquet", "consumer": ".parquet"}
    roots = {"raw": raw, "processed": processed, "consumer": consumer_root}

    def measure(sql: str) -> tuple[int, float, list]:
        """(bytes the process read during the query, seconds, rows), on a fresh connection."""
        con = duckdb.connect()
        con.execute("SET threads = 2")
        con.execute("SET enable_external_file_cache = false")
        con.execute("SELECT 1").fetchall()
        before, t0 = rchar(), time.perf_counter()
        rows = con.execute(sql).fetchall()
        elapsed, read = time.perf_counter() - t0, rchar() - before
        con.close()
        return read, elapsed, rows

    query_figures: dict[str, Any] = {}
    for zone, sql in queries.items():
        none = sql.replace(f"dt = '{day}'", "dt = '0000-00-00'")  # the same query, no partition to read
        measure(sql), measure(none)
        pairs = [(measure(sql), measure(none)) for _ in range(ns.runs)]
        samples = [(q[0] - b[0], q[1], q[2]) for q, b in pairs]
        day_files = [f for f in files_under(roots[zone], suffix[zone]) if f"dt={day}" in f.parts]
        query_figures[zone] = {
            "bytesRead": [s[0] for s in samples],
            "baselineBytes": [b[0] for _, b in pairs],
            "seconds": [round(s[1], 4) for s in samples],
            "result": [[str(v) for v in r] for r in samples[-1][2]],
            "dayFiles": len(day_files),
            "dayFileBytes": sum(f.stat().st_size for f in day_files),
            "sql": sql,
        }

    med: Callable[[list], float] = statistics.median
    figures = {
        "records": ns.records,
        "days": ns.days,
        "environment": ns.env,
        "partitionKeys": contract.partition_names,
        "consumerTable": contract.consumer_table,
        "consumerKind": contract.consumer.kind,
        "queryDay": day,
        "runs": ns.runs,
        "zones": zones,
        "queries": query_figures,
        "jobs": {
            "rawToProcessed": [
                {
                    "input": s["input"]["records"],
                    "processed": s["processed"]["records"],
                    "quarantined": s["quarantined"]["byReason"],
                }
                for s in summaries
            ],
            "consumerRows": consumer_summary["consumer"]["rows"],
        },
        "targets": {"queryBytesRatio": 0.02, "sizeRatio": 0.25},
        "bytesReadMeasure": "rchar of /proc/self/io around the query (bytes returned by read/pread) less the same query over no partition, fresh DuckDB connection, external file cache off",
    }
    print(
        f"\ndata layout, {ns.records:,} orders over {ns.days} days ({ns.env}: {'/'.join(contract.partition_names)}); one-day query on {day}"
    )
    raw_read = med(query_figures["raw"]["bytesRead"])
    print(f"{'zone':<10} {'size':>12} {'vs raw':>8} {'files':>6} {'max/part':>8} {'day query read':>15} {'vs raw':>8}")
    for zone in ("raw", "processed", "consumer"):
        z, q = zones[zone], query_figures[zone]
        print(
            f"{zone:<10} {z['bytes']:>12,} {z['bytes'] / zones['raw']['bytes']:>8.2%} {z['files']:>6} {z['filesPerPartitionMax']:>8} "
            f"{med(q['bytesRead']):>15,.0f} {med(q['bytesRead']) / raw_read:>8.2%}"
        )
    if ns.json:
        ns.json.write_text(json.dumps(figures, indent=2) + "\n")
    if not ns.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
