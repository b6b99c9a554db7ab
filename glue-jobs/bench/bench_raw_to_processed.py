"""Benchmark: raw → processed over a generated bench dataset, against the I/O floor. Not a test.

    .venv/bin/python glue-jobs/bench/bench_raw_to_processed.py [--records 1000000] [--runs 3] [--json out.json]

The floor is a plain Spark read-then-write of the same files: `spark.read.schema(<contract
types>).json(raw).write.parquet(...)` — no validation, deduplication, partitioning or quarantine.
Both run in one local session (the same JVM, warmed up by an untimed run of each), in alternating
order; each figure is the median of `--runs`. Wall time and the JVM's CPU time (user + system, from
/proc) are both reported: on a shared machine wall time swings with other load, CPU time much less.
Prints a table and writes the same figures as JSON. Target: job / floor < 1.5.

Where the job's time goes: each measured run also times the job's phases (its own methods and
helpers, wrapped here for the bench process only; the job's code is unchanged): listing the input,
the decode check pass, the drift sample, the one pass (read, validation, ranking and the staged
Parquet write, which Spark runs as one job and cannot be split), the merge with stored partitions,
the commits, and reading back the committed row counts; the rest of the run (quarantine write,
summary) is what remains. Spark's start-up is the session's creation, once per process here and once
per run on Glue. The records are a generated bench dataset: they follow the columns of the
`--dataset` contract (the generator writes those columns), and are nobody's data.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

# Run as a script: the package is imported from glue-jobs/, this folder's parent.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataplat_glue import raw_to_processed
from dataplat_glue.contract import JobContract
from dataplat_glue.spark import local_session, struct_of

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def contract_for(env: str, dataset: str) -> dict:
    tsx = ROOT / "node_modules" / ".bin" / "tsx"
    out = subprocess.run(
        [str(tsx), "scripts/export-contracts.ts", env], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)[dataset]


# The job's phases, timed per run: (label, owner, attribute). Owners are the job's class and module.
PHASES = [
    ("listing the input", "run", "objects"),
    ("decode check pass", "run", "check"),
    ("drift sample", "module", "unexpected_columns"),
    ("one pass: read + validate + rank + staged write", "run", "dedupe_input"),
    ("merge with stored partitions", "run", "merge"),
    ("commit (processed partitions)", "module", "commit_partitions"),
    ("commit (quarantine files)", "run", "_commit_quarantine"),
    ("read back committed row counts", "run", "_rows"),
]


def time_phases() -> dict[str, float]:
    """Wraps the phases so each call adds its wall time to the returned dict (cleared per run by the caller)."""
    spent: dict[str, float] = {}
    owners = {"run": raw_to_processed._Run, "module": raw_to_processed}
    for label, owner, attr in PHASES:
        target = owners[owner]
        original = getattr(target, attr)

        def timed(*args: Any, __original: Callable[..., Any] = original, __label: str = label, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return __original(*args, **kwargs)
            finally:
                spent[__label] = spent.get(__label, 0.0) + time.perf_counter() - t

        setattr(target, attr, timed)
    return spent


def generate(
    folder: Path,
    records: int,
    files: int,
    seed: int = 7,
    days: int = 30,
    start: str = "2024-05-01",
    every_region_every_day: bool = False,
) -> None:
    """Orders over `days` days from `start` and three regions; ~2% later versions of a key, ~0.5% bad rows.

    By default the day and the region both cycle with the record number, so with a day count divisible
    by three each day holds one region (the figures in docs/performance.md were measured so);
    `every_region_every_day` spreads every day over all three regions instead."""
    rng = random.Random(seed)
    first = datetime.date.fromisoformat(start)
    dates = [(first + datetime.timedelta(days=d)).isoformat() for d in range(days)]
    statuses, currencies, regions = (
        ["placed", "paid", "shipped", "cancelled"],
        ["EUR", "USD", "GBP"],
        ["eu", "us", "apac"],
    )
    folder.mkdir(parents=True, exist_ok=True)
    handles = [open(folder / f"orders-{i:03d}.json", "w", encoding="utf-8") for i in range(files)]
    try:
        previous = None
        for n in range(records):
            if previous is not None and rng.random() < 0.02:
                # a later version of the previous order: same key and partition, newer updated_at
                row = {
                    **previous,
                    "status": rng.choice(statuses),
                    "updated_at": previous["updated_at"][:19] + f".{len(str(n)) + rng.randrange(0, 999999):06d}Z",
                }
            else:
                minute = rng.randrange(0, 1440)
                day = (n // len(regions)) % days if every_region_every_day else n % days
                stamp = f"{dates[day]}T{minute // 60:02d}:{minute % 60:02d}"
                row = {
                    "order_id": f"o-{n:08d}",
                    "customer_id": f"c-{rng.randrange(0, 50000):06d}",
                    "region": regions[n % 3],
                    "status": rng.choice(statuses),
                    "amount": f"{rng.randrange(100, 100000) / 100:.2f}",
                    "currency": rng.choice(currencies),
                    "order_ts": f"{stamp}:00Z",
                    "updated_at": f"{stamp}:{rng.randrange(0, 60):02d}Z",
                }
                if rng.random() < 0.005:
                    row["amount"] = "n/a"
            previous = row
            handles[n % files].write(json.dumps(row, separators=(",", ":")) + "\n")
    finally:
        for h in handles:
            h.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--env", default="prod")
    parser.add_argument("--dataset", default="orders", help="the contract whose columns the generated records follow")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--workdir", type=Path, help="keep generated data here (default: a temp dir)")
    ns = parser.parse_args()

    work = ns.workdir or Path(tempfile.mkdtemp(prefix="glue-bench-"))
    raw = work / f"raw-{ns.records}"
    if not raw.exists():
        t = time.perf_counter()
        generate(raw, ns.records, ns.files)
        print(f"generated {ns.records} records in {time.perf_counter() - t:.1f}s → {raw}", file=sys.stderr)
    contract_json = contract_for(ns.env, ns.dataset)
    contract = JobContract.from_dict(contract_json)
    started = time.perf_counter()
    spark = local_session(app="glue-bench", cores=os.cpu_count() or 2, shuffle_partitions=8, driver_memory="4g")
    spark.range(1).count()  # the first job: executors and the scheduler up
    startup_seconds = time.perf_counter() - started
    spent = time_phases()
    phase_runs: list[dict[str, float]] = []

    jvm_pid = spark._jvm.java.lang.ProcessHandle.current().pid()
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        fields = Path(f"/proc/{jvm_pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    def measured(fn: Callable[[], None]) -> tuple[float, float]:
        t, c = time.perf_counter(), cpu()
        fn()
        return time.perf_counter() - t, cpu() - c

    def floor() -> None:
        out = work / "floor"
        shutil.rmtree(out, ignore_errors=True)
        spark.read.schema(struct_of(contract.columns)).json(str(raw)).write.mode("overwrite").parquet(str(out))

    summary: dict = {}

    def job() -> None:
        out = work / "job"
        shutil.rmtree(out, ignore_errors=True)
        spent.clear()
        t = time.perf_counter()
        result = raw_to_processed.main(
            [
                "--local",
                "--dataset_contract",
                json.dumps(contract_json),
                "--input_path",
                str(raw),
                "--output_path",
                str(out / "processed"),
                "--quarantine_path",
                str(out / "quarantine"),
                "--summary_path",
                str(out / "summary.json"),
                "--run_id",
                "bench",
                "--as_of",
                "2024-06-01T00:00:00Z",
            ],
            spark=spark,
        )
        total = time.perf_counter() - t
        phase_runs.append({**spent, "rest (quarantine write, summary)": total - sum(spent.values()), "total": total})
        summary.update(result)

    floor(), job()  # warm-up: JIT, class loading, file cache
    phase_runs.clear()
    floors, jobs = [], []
    for i in range(ns.runs):
        for fn, acc in ((floor, floors), (job, jobs)) if i % 2 == 0 else ((job, jobs), (floor, floors)):
            acc.append(measured(fn))
    spark.stop()

    def med(xs: list[tuple[float, float]], i: int) -> float:
        return statistics.median(x[i] for x in xs)

    files = sum(len(p["files"]) for p in summary["processed"]["partitions"])
    figures = {
        "records": ns.records,
        "environment": ns.env,
        "runs": ns.runs,
        "floorSecondsMedian": round(med(floors, 0), 2),
        "jobSecondsMedian": round(med(jobs, 0), 2),
        "ratio": round(med(jobs, 0) / med(floors, 0), 2),
        "floorCpuSecondsMedian": round(med(floors, 1), 2),
        "jobCpuSecondsMedian": round(med(jobs, 1), 2),
        "cpuRatio": round(med(jobs, 1) / med(floors, 1), 2),
        "target": 1.5,
        "floorSeconds": [round(x[0], 2) for x in floors],
        "jobSeconds": [round(x[0], 2) for x in jobs],
        "floorCpuSeconds": [round(x[1], 2) for x in floors],
        "jobCpuSeconds": [round(x[1], 2) for x in jobs],
        "processed": summary["processed"]["records"],
        "quarantined": summary["quarantined"]["byReason"],
        "partitions": len(summary["processed"]["partitions"]),
        "filesPerPartition": files / max(1, len(summary["processed"]["partitions"])),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "sparkStartupSeconds": round(startup_seconds, 2),
        "phasesSecondsMedian": {
            label: round(statistics.median(r.get(label, 0.0) for r in phase_runs), 2)
            for label in [p[0] for p in PHASES] + ["rest (quarantine write, summary)", "total"]
        },
    }
    print(
        f"\nraw → processed, {ns.records:,} records ({ns.env} partitioning), median of {ns.runs}; {figures['machine']}"
    )
    print(f"{'what':<34} {'wall':>8} {'ratio':>6} {'JVM CPU':>9} {'ratio':>6}")
    print(
        f"{'floor: read JSON + write Parquet':<34} {figures['floorSecondsMedian']:>7.2f}s {1:>6.2f} {figures['floorCpuSecondsMedian']:>8.2f}s {1:>6.2f}"
    )
    print(
        f"{'raw_to_processed':<34} {figures['jobSecondsMedian']:>7.2f}s {figures['ratio']:>6.2f} {figures['jobCpuSecondsMedian']:>8.2f}s "
        f"{figures['cpuRatio']:>6.2f}   (target < {figures['target']})"
    )
    print(
        f"processed {figures['processed']:,}, quarantined {figures['quarantined']}, "
        f"{figures['partitions']} partitions, {figures['filesPerPartition']:.1f} file(s) per partition"
    )
    print(
        f"\nwhere raw_to_processed's time goes (median of {len(phase_runs)} runs; Spark start-up {figures['sparkStartupSeconds']:.2f}s, once per process here, per run on Glue):"
    )
    for label, seconds in figures["phasesSecondsMedian"].items():
        print(f"  {label:<50} {seconds:>7.2f}s")
    if ns.json:
        ns.json.write_text(json.dumps(figures, indent=2) + "\n")
    if not ns.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
