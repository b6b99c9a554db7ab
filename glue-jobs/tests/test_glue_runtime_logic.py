"""The emulator's local `awsglue` (scripts/emulator/glue_runtime/awsglue), the parts that need no Spark
or emulator: argument resolution, the JDBC bookmark predicate (run by DuckDB), DynamoDB JSON
unnesting, and the bookmark hand-back of Job.init/commit. The runs themselves are tested in
__tests__/integration/glue-job-runs.test.ts.

The runtime is loaded under a private package name, so the `awsglue` stand-in of the other tests
(glue_stub.py) and this runtime never meet in sys.modules.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Iterator

import duckdb
import pytest

from support import ROOT

RUNTIME = ROOT / "scripts" / "emulator" / "glue_runtime" / "awsglue"
PACKAGE = "emulator_awsglue_under_test"


@pytest.fixture(scope="module")
def runtime() -> Iterator[dict[str, ModuleType]]:
    spec = importlib.util.spec_from_file_location(
        PACKAGE, RUNTIME / "__init__.py", submodule_search_locations=[str(RUNTIME)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    spec.loader.exec_module(package)
    modules = {name: importlib.import_module(f"{PACKAGE}.{name}") for name in ("utils", "context", "job", "_run")}
    yield modules
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def test_get_resolved_options_returns_the_asked_arguments_and_ignores_the_rest(runtime: dict[str, ModuleType]) -> None:
    argv = [
        "script.py",
        "--JOB_ID",
        "j_1",
        "--JOB_RUN_ID",
        "jr_1",
        "--JOB_NAME",
        "extract",
        "--job-bookmark-option",
        "job-bookmark-enable",
        "--output_path",
        "s3://raw/x/",
        "--TempDir",
        "s3://scratch/t/",
    ]
    assert runtime["utils"].getResolvedOptions(argv, ["JOB_NAME", "output_path"]) == {
        "JOB_NAME": "extract",
        "output_path": "s3://raw/x/",
    }


def test_get_resolved_options_exits_on_a_missing_argument(
    runtime: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        runtime["utils"].getResolvedOptions(["script.py", "--JOB_NAME", "x"], ["JOB_NAME", "connection_name"])
    assert "--connection_name" in capsys.readouterr().err


@pytest.mark.parametrize(
    "op,committed,expected",
    [
        (">", ["2024-05-01", "b"], ["2024-05-01/c", "2024-05-02/a"]),
        ("<", ["2024-05-01", "b"], ["2024-04-30/z", "2024-05-01/a"]),
        (">", ["2024-05-02", "a"], []),
    ],
)
def test_bookmark_predicate_selects_rows_past_the_committed_keys_in_lexicographic_order(
    runtime: dict[str, ModuleType], op: str, committed: list[str], expected: list[str]
) -> None:
    db = duckdb.connect()
    db.execute("CREATE TABLE t (day varchar, tie varchar)")
    db.execute(
        "INSERT INTO t VALUES ('2024-04-30','z'), ('2024-05-01','a'), ('2024-05-01','b'), ('2024-05-01','c'), ('2024-05-02','a')"
    )
    where = runtime["context"]._beyond(["day", "tie"], committed, op)
    rows = db.execute(f"SELECT day || '/' || tie FROM t WHERE {where} ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == expected


def test_bookmark_predicate_quotes_values(runtime: dict[str, ModuleType]) -> None:
    db = duckdb.connect()
    db.execute("CREATE TABLE t (k varchar)")
    db.execute("INSERT INTO t VALUES ('a''b'), ('a''c')")
    assert db.execute(
        f"SELECT k FROM t WHERE {runtime['context']._beyond(['k'], [chr(39).join(['a', 'b'])], '>')}"
    ).fetchall() == [("a'c",)]


def test_dynamodb_json_is_unnested_into_plain_values(runtime: dict[str, ModuleType]) -> None:
    plain = runtime["context"]._plain
    item = {
        "M": {
            "s": {"S": "x"},
            "n": {"N": "42"},
            "f": {"N": "1.50"},
            "e": {"N": "1e3"},
            "b": {"BOOL": False},
            "z": {"NULL": True},
            "l": {"L": [{"S": "a"}, {"N": "1"}]},
            "ss": {"SS": ["p", "q"]},
            "ns": {"NS": ["1", "2.5"]},
        }
    }
    assert plain(item) == {
        "s": "x",
        "n": 42,
        "f": 1.5,
        "e": 1000.0,
        "b": False,
        "z": None,
        "l": ["a", 1],
        "ss": ["p", "q"],
        "ns": [1, 2.5],
    }
    with pytest.raises(ValueError, match="unknown DynamoDB type"):
        plain({"X": 1})


def test_job_commit_hands_the_read_states_to_the_emulator(
    runtime: dict[str, ModuleType], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_file, out = tmp_path / "run.json", tmp_path / "bookmark-out.json"
    run_file.write_text(
        json.dumps(
            {
                "jobName": "extract",
                "bookmarkOption": "job-bookmark-enable",
                "bookmarkOut": str(out),
                "bookmark": {"src": {"jobBookmarkKeys": ["v"], "values": ["1"]}},
            }
        )
    )
    monkeypatch.setenv("DATAPLAT_GLUE_RUN", str(run_file))
    monkeypatch.setattr(runtime["_run"], "_RUN", None)
    monkeypatch.setattr(runtime["_run"], "staged", {})
    assert runtime["_run"].bookmark_state("src") == {"jobBookmarkKeys": ["v"], "values": ["1"]}
    job = runtime["job"].Job(glue_context=None)
    with pytest.raises(ValueError, match="not the job this run belongs to"):
        job.init("another-job", {})
    with pytest.raises(RuntimeError, match="before Job.init"):
        job.commit()
    job.init("extract", {})
    runtime["_run"].staged["src"] = {"jobBookmarkKeys": ["v"], "values": ["7"]}
    job.commit()
    assert json.loads(out.read_text()) == {
        "committed": True,
        "states": {"src": {"jobBookmarkKeys": ["v"], "values": ["7"]}},
    }


def test_bookmarks_off_give_no_state(
    runtime: dict[str, ModuleType], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_file = tmp_path / "run.json"
    run_file.write_text(
        json.dumps({"jobName": "x", "bookmarkOption": "job-bookmark-disable", "bookmark": {"src": {"values": ["1"]}}})
    )
    monkeypatch.setenv("DATAPLAT_GLUE_RUN", str(run_file))
    monkeypatch.setattr(runtime["_run"], "_RUN", None)
    assert runtime["_run"].bookmark_state("src") is None


def test_outside_an_emulated_run_the_runtime_says_how_to_run_a_job(
    runtime: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATAPLAT_GLUE_RUN", raising=False)
    monkeypatch.setattr(runtime["_run"], "_RUN", None)
    with pytest.raises(RuntimeError, match="start-job-run"):
        runtime["_run"].run()
