"""Benchmark: one incremental pipeline run (one day's landing) after 1, 30 and 90 days of stored
history, against the whole-prefix run (`--input_path` = the dataset's raw root) on the same data. Not a test.

    .venv/bin/python glue-jobs/bench/bench_incremental.py [--records-per-day 1000] [--histories 1,30,90] [--json out.json]

A run is raw → processed with the landing's manifest, then processed → consumer over the partitions
it touched, as the state machine runs them. What the jobs read is counted at the storage layer:
Spark's local file system is replaced by `CountingFileSystem` (java/, compiled here with javac),
which records every file opened; bytes read are Hadoop's FileSystem statistics for the `file`
scheme. Partitions rewritten are the processed and consumer partitions the runs committed. Wall time
is reported beside them (Spark's start-up of each job dominates it at these sizes).
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Run as a script: the package is imported from glue-jobs/, this folder's parent.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataplat_glue import processed_to_consumer, raw_to_processed
from dataplat_glue.spark import configure

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

START = datetime.date(2024, 1, 1)
DATASET = "orders"
AS_OF = "2024-12-31T00:00:00Z"


def contract_for(env: str, dataset: str) -> dict:
    tsx = ROOT / "node_modules" / ".bin" / "tsx"
    out = subprocess.run(
        [str(tsx), "scripts/export-contracts.ts", env], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)[dataset]


def build_jar(work: Path) -> Path:
    """Compiles the counting file system against Spark's own jars."""
    javac = shutil.which("javac")
    if javac is None:
        sys.exit("javac is not on the PATH: install a JDK 17, e.g. `apt-get install openjdk-17-jdk-headless`")
    import pyspark

    classpath = os.path.join(os.path.dirname(pyspark.__file__), "jars", "*")
    classes = work / "classes"
    shutil.rmtree(classes, ignore_errors=True)
    classes.mkdir(parents=True)
    subprocess.run(
        [javac, "-d", str(classes), "-cp", classpath, str(HERE / "java" / "CountingFileSystem.java")], check=True
    )
    jar = work / "counting-fs.jar"
    subprocess.run([shutil.which("jar") or "jar", "cf", str(jar), "-C", str(classes), "."], check=True)
    return jar


def session(jar: Path) -> SparkSession:
    from pyspark.sql import SparkSession

    cores = os.cpu_count() or 2
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("incremental-bench")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", str(cores))
        .config("spark.driver.memory", "2g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraClassPath", str(jar))
        .config("spark.hadoop.fs.file.impl", "dataplat.bench.CountingFileSystem")
        .config("spark.hadoop.fs.file.impl.disable.cache", "false")
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return configure(spark)


def day(n: int) -> str:
    return (START + datetime.timedelta(days=n)).isoformat()


def landing(n: int, records: int) -> bytes:
    """One day's landing: `records` orders placed that day over three regions, ~2% later versions, ~0.5% bad rows."""
    rng = random.Random(n)
    lines, previous = [], None
    for i in range(records):
        if previous is not None and rng.random() < 0.02:
            row = {**previous, "status": "paid", "updated_at": previous["updated_at"][:17] + "59.5Z"}
        else:
            minute = rng.randrange(0, 1440)
            stamp = f"{day(n)}T{minute // 60:02d}:{minute % 60:02d}"
            row = {
                "order_id": f"o-{n:03d}-{i:06d}",
                "customer_id": f"c-{rng.randrange(0, 5000):05d}",
                "region": ("eu", "us", "apac")[i % 3],
                "status": "placed",
                "amount": f"{rng.randrange(100, 100000) / 100:.2f}",
                "currency": "EUR",
                "order_ts": f"{stamp}:00Z",
                "updated_at": f"{stamp}:30Z",
            }
            if rng.random() < 0.005:
                row["amount"] = "n/a"
        previous = row
        lines.append(json.dumps(row, separators=(",", ":")))
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records-per-day", type=int, default=1000)
    parser.add_argument("--histories", default="1,30,90", help="days of stored history before the measured landing")
    parser.add_argument("--env", default="prod")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--workdir", type=Path)
    ns = parser.parse_args()
    histories = [int(h) for h in ns.histories.split(",")]
    work = ns.workdir or Path(tempfile.mkdtemp(prefix="incremental-bench-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    contract = contract_for(ns.env, DATASET)
    spark = session(build_jar(work))
    jvm = spark._jvm
    counting = jvm.dataplat.bench.CountingFileSystem
    hadoop_fs = jvm.org.apache.hadoop.fs.FileSystem

    pool = work / "pool"
    pool.mkdir()
    for n in range(max(histories) + 1):
        (pool / f"{day(n)}.json.gz").write_bytes(landing(n, ns.records_per_day))

    def measured(fn: Callable[[], int]) -> dict:
        hadoop_fs.clearStatistics()
        counting.reset()
        t = time.perf_counter()
        partitions = fn()
        seconds = time.perf_counter() - t
        opened = [p for p in counting.opened() if str(work) in p]
        read = sum(s.getBytesRead() for s in hadoop_fs.getAllStatistics() if s.getScheme() == "file")
        zones = {z: sum(1 for p in opened if f"/{z}/" in p) for z in ("raw", "processed", "consumer")}
        return {
            "objects": len(opened),
            "bytes": int(read),
            "partitions": partitions,
            "seconds": round(seconds, 3),
            "objectsByZone": zones,
        }

    def base_args(lake: Path, out: str, run: str) -> list[str]:
        return [
            "--local",
            "--dataset_contract",
            json.dumps(contract),
            "--output_path",
            str(lake / out / "processed"),
            "--quarantine_path",
            str(lake / out / "quarantine"),
            "--summary_path",
            str(lake / out / "quarantine" / "runs" / f"{run}.json"),
            "--run_id",
            run,
            "--as_of",
            AS_OF,
        ]

    def to_consumer(lake: Path, out: str, run: str, partitions: bool) -> dict:
        return processed_to_consumer.main(
            [
                "--local",
                "--dataset_contract",
                json.dumps(contract),
                "--input_path",
                str(lake / out / "processed"),
                "--output_path",
                str(lake / out / "consumer"),
                "--run_id",
                run,
            ]
            + (["--partitions_path", str(lake / out / "quarantine" / "runs" / f"{run}.json")] if partitions else []),
            spark=spark,
        )

    results: dict = {
        "recordsPerDay": ns.records_per_day,
        "environment": ns.env,
        "histories": histories,
        "incremental": {},
        "wholePrefix": {},
    }
    for h in histories:
        lake = work / f"history-{h}"
        raw = lake / "raw" / DATASET
        for n in range(h):
            target = raw / f"dt={day(n)}" / "landing.json.gz"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(pool / f"{day(n)}.json.gz", target)
        # The stored history, processed once (not measured); the yardstick starts from a copy of it.
        raw_to_processed.main(base_args(lake, "out", "seed") + ["--input_path", str(raw)], spark=spark)
        to_consumer(lake, "out", "seed", partitions=False)
        shutil.copytree(lake / "out", lake / "whole")
        key = f"{DATASET}/dt={day(h)}/landing.json.gz"
        (raw / f"dt={day(h)}").mkdir()
        os.link(pool / f"{day(h)}.json.gz", raw / f"dt={day(h)}" / "landing.json.gz")
        manifest = lake / "manifest.json"
        manifest.write_text(json.dumps([{"key": key}]))

        def incremental() -> int:
            first = raw_to_processed.main(
                base_args(lake, "out", "run") + ["--manifest_path", str(manifest), "--raw_root", str(raw)], spark=spark
            )
            second = to_consumer(lake, "out", "run", partitions=True)
            return len(first["processed"]["partitions"]) + len(second["consumer"]["partitions"])

        def whole() -> int:
            first = raw_to_processed.main(base_args(lake, "whole", "run") + ["--input_path", str(raw)], spark=spark)
            second = to_consumer(lake, "whole", "run", partitions=False)
            return len(first["processed"]["partitions"]) + len(second["consumer"]["partitions"])

        results["incremental"][str(h)] = measured(incremental)
        results["wholePrefix"][str(h)] = measured(whole)
        print(
            f"history {h:>3} days: incremental {results['incremental'][str(h)]}; whole prefix {results['wholePrefix'][str(h)]}",
            file=sys.stderr,
        )
        shutil.rmtree(lake)
    spark.stop()
    shutil.rmtree(work, ignore_errors=True) if ns.workdir is None else None
    text = json.dumps(results, indent=2)
    print(text)
    if ns.json:
        ns.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
