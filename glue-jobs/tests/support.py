"""Helpers shared by the Glue job tests: sample records, file writers, job runners, output readers."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any, Iterable

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
GLUE = ROOT / "glue-jobs"
AS_OF = "2024-06-01T00:00:00Z"
_DROP = object()


def order(n: int, **changes: Any) -> dict[str, Any]:
    """A valid order (dt=2024-05-01, region eu); `changes` override fields, `field=DROP` removes one."""
    record: dict[str, Any] = {
        "order_id": f"o-{n:03d}",
        "customer_id": "c-1",
        "region": "eu",
        "status": "placed",
        "amount": "10.00",
        "currency": "EUR",
        "order_ts": "2024-05-01T10:00:00Z",
        "updated_at": "2024-05-01T10:00:00Z",
    }
    for key, value in changes.items():
        if value is _DROP:
            record.pop(key, None)
        else:
            record[key] = value
    return record


DROP = _DROP


def line(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def write_lines(path: Path, lines: Iterable[str], newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(f"{x}{newline}" for x in lines).encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    return path


def run_job(module: Any, spark: Any, contract: dict, **args: Any) -> dict:
    """Runs a job's real entry point (`main(argv)`, local mode) with `--name value` arguments."""
    argv = ["--local", "--dataset_contract", json.dumps(contract)]
    for key, value in args.items():
        if value is not None:
            argv += [f"--{key}", str(value)]
    return module.main(argv, spark=spark)


def raw_to_processed(
    spark: Any, contract: dict, inputs: Path | str | None, out: Path, run_id: str = "run-1", **extra: Any
) -> dict:
    """The job over `inputs` (--input_path), or with `manifest_path=` and `raw_root=` in `extra`; the
    summary goes to <out>/quarantine/runs/<run_id>.json as the pipeline lays it out."""
    from dataplat_glue import raw_to_processed as job

    return run_job(
        job,
        spark,
        contract,
        input_path=inputs,
        output_path=out / "processed",
        quarantine_path=out / "quarantine",
        summary_path=summary_file(out, run_id),
        run_id=run_id,
        as_of=extra.pop("as_of", AS_OF),
        **extra,
    )


def summary_file(out: Path, run_id: str) -> Path:
    return out / "quarantine" / "runs" / f"{run_id}.json"


def write_manifest(path: Path, keys: Iterable[str] | None = None, reprocess: dict | None = None) -> Path:
    """A pipeline manifest: a batch of keys (the Pipe's shape), or a reprocess request."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"reprocess": reprocess} if reprocess is not None else [{"key": k} for k in keys or []]
    path.write_text(json.dumps(body))
    return path


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def hashes(root: Path) -> dict[str, str]:
    return {rel: hashlib.sha256((root / rel).read_bytes()).hexdigest() for rel in files(root)}


def contents(root: Path) -> dict[str, Any]:
    """What a rerun must reproduce: every file's name and, for Parquet, its schema and rows in file
    order (Parquet footers may list a chunk's encodings in another order between JVMs); other
    files byte for byte."""
    import pyarrow.parquet as pq

    out: dict[str, Any] = {}
    for rel in files(root):
        if rel.endswith(".parquet"):
            table = pq.read_table(root / rel)
            out[rel] = (str(table.schema), table.to_pylist())
        else:
            out[rel] = hashlib.sha256((root / rel).read_bytes()).hexdigest()
    return out


def read_partitioned(root: Path) -> list[dict[str, Any]]:
    """Every row of a Hive-partitioned Parquet folder, read with pyarrow (not Spark), with its
    partition values taken from the path; sorted by path then file order."""
    rows = []
    for rel in files(root):
        if not rel.endswith(".parquet"):
            continue
        parts = dict(seg.split("=", 1) for seg in rel.split("/")[:-1])
        for row in pq.read_table(root / rel).to_pylist():
            rows.append({**row, **parts})
    return rows


def quarantine_records(folder: Path) -> list[dict[str, Any]]:
    """Every quarantine record under a raw_to_processed quarantine folder (one file per source object)."""
    out = []
    for rel in files(folder):
        if rel.startswith("objects/"):
            out += [json.loads(x) for x in (folder / rel).read_text(encoding="utf-8").splitlines()]
    return out
