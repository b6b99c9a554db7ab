"""Fixtures of the Glue job tests: one local SparkSession for the whole run, and the job contracts
exported by the TypeScript side (`scripts/export-contracts.ts`) for dev (dt) and prod (dt + region),
so the tests exercise exactly the contracts and partition specs the stacks deploy."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import TYPE_CHECKING, Iterator

import pytest

from support import ROOT

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _export(env: str) -> dict:
    tsx = ROOT / "node_modules" / ".bin" / "tsx"
    if not tsx.exists():
        pytest.fail(f"{tsx} is missing: run `npm ci` in {ROOT} first (the tests read the TypeScript contract export)")
    done = subprocess.run([str(tsx), "scripts/export-contracts.ts", env], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"export-contracts {env} failed:\n{done.stderr}")
    return json.loads(done.stdout)


@pytest.fixture(scope="session")
def contracts() -> dict[str, dict]:
    """{"dev": {dataset: contract}, "prod": {...}} as the Glue jobs receive them in --dataset_contract."""
    return {env: _export(env) for env in ("dev", "prod")}


@pytest.fixture(scope="session")
def every_contract() -> dict[str, dict]:
    """The export of every environment (dev, staging, prod, local): what the two views are compared on."""
    return {env: _export(env) for env in ("dev", "staging", "prod", "local")}


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    if shutil.which("java") is None:
        pytest.fail(
            "java is not on the PATH: install a JDK 17 (Glue 5.0's Java), e.g. `apt-get install openjdk-17-jre-headless`"
        )
    from dataplat_glue.spark import local_session

    session = local_session(app="dataplat-glue-tests", cores=2, shuffle_partitions=2, driver_memory="1g")
    # Test frames hold a few rows: compiling whole-stage code costs more than it saves (~15% of the run).
    session.conf.set("spark.sql.codegen.wholeStage", "false")
    yield session
    session.stop()
