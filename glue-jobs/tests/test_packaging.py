"""The --extra-py-files archive is deterministic, self-contained, and importable without awsglue;
the entry scripts run as Glue would start them (a plain `python script.py`), here in --local mode."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import build_package  # glue-jobs/build_package.py
from support import GLUE, ROOT, files, line, order, write_lines


def test_the_package_zip_is_byte_identical_across_builds(tmp_path: Path) -> None:
    first, second = build_package.build_bytes(), build_package.build_bytes()
    assert first == second
    sha = build_package.build(tmp_path / "a.zip")
    assert sha == hashlib.sha256(first).hexdigest() == hashlib.sha256((tmp_path / "a.zip").read_bytes()).hexdigest()


def test_the_zip_holds_the_package_at_its_root_with_fixed_metadata(tmp_path: Path) -> None:
    build_package.build(tmp_path / "p.zip")
    with zipfile.ZipFile(tmp_path / "p.zip") as zf:
        infos = zf.infolist()
    expected = sorted(f"dataplat_glue/{p.name}" for p in (GLUE / "dataplat_glue").glob("*.py"))
    assert [i.filename for i in infos] == expected
    assert {(i.date_time, i.external_attr >> 16, i.compress_type, i.create_system) for i in infos} == {
        ((1980, 1, 1, 0, 0, 0), 0o100644, zipfile.ZIP_STORED, 3)
    }


def test_the_zip_imports_without_awsglue(tmp_path: Path) -> None:
    build_package.build(tmp_path / "p.zip")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "import dataplat_glue.raw_to_processed, dataplat_glue.processed_to_consumer, dataplat_glue.rds_extract, dataplat_glue.dynamodb_extract; "
        "print(dataplat_glue.raw_to_processed.__file__, 'awsglue' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "p.zip")], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(tmp_path / "p.zip" / "dataplat_glue" / "raw_to_processed.py"), "False"]


def test_the_build_command_prints_hash_and_path(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(GLUE / "build_package.py"), "--out", str(tmp_path / "x.zip")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{hashlib.sha256((tmp_path / 'x.zip').read_bytes()).hexdigest()}  {tmp_path / 'x.zip'}\n"


def test_an_entry_script_runs_end_to_end_as_a_process(contracts: dict[str, dict], tmp_path: Path) -> None:
    write_lines(tmp_path / "raw" / "a.jsonl", [line(order(1)), line(order(2, amount="?"))])
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            str(GLUE / "jobs" / "raw_to_processed.py"),
            "--local",
            "--dataset_contract",
            json.dumps(contracts["dev"]["orders"]),
            "--input_path",
            str(tmp_path / "raw"),
            "--output_path",
            str(out / "processed"),
            "--quarantine_path",
            str(out / "q"),
            "--summary_path",
            str(out / "summary.json"),
            "--run_id",
            "cli",
            "--as_of",
            "2024-06-01T00:00:00Z",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "job": "raw_to_processed",
        "dataset": "orders",
        "runId": "cli",
        "counts": {"input": 1 + 1, "processed": 1, "quarantined": 1},
    }
    key = f"{str(tmp_path).lstrip('/')}/raw/a.jsonl"
    assert files(out) == ["processed/dt=2024-05-01/part-00000.snappy.parquet", f"q/objects/{key}.json", "summary.json"]


def test_an_entry_script_rejects_a_missing_argument_before_starting_spark(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(GLUE / "jobs" / "processed_to_consumer.py"), "--local", "--dataset_contract", "{}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2
    assert "the following arguments are required: --input_path, --output_path" in done.stderr
    assert "SparkContext" not in done.stderr


def test_every_module_is_shipped() -> None:
    # a new module must land in the zip (and the zip must not pick up tests or scripts)
    names = sorted(p.name for p in (GLUE / "dataplat_glue").glob("*.py"))
    assert names == sorted(
        n.split("/")[-1]
        for n in [i.filename for i in zipfile.ZipFile(__import__("io").BytesIO(build_package.build_bytes())).infolist()]
    )
    assert ROOT.joinpath("glue-jobs", "jobs").is_dir()
