"""A started emulator (launcher.py, as scripts/emulator/index.ts starts it) shared by the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, TypeVar

import boto3
import pytest

if TYPE_CHECKING:
    from botocore.client import BaseClient

LAUNCHER = Path(__file__).resolve().parents[1] / "launcher.py"
ACCOUNT = "123456789012"
REGION = "us-east-1"
T = TypeVar("T")

# The tests import the emulator's modules (`services.*`) from scripts/emulator, as launcher.py does.
sys.path.insert(0, str(LAUNCHER.parent))


class Emulator:
    def __init__(self, ready: dict, log: Path):
        self.endpoint = ready["endpoint"]
        self.ca_bundle = ready["caBundle"]
        self.log = log

    def client(self, service: str, account: str = ACCOUNT, **credentials) -> BaseClient:
        keys = credentials or {"aws_access_key_id": f"AKIA{account}EMUL", "aws_secret_access_key": "emulator"}
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION, verify=self.ca_bundle, **keys)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    state = tmp_path_factory.mktemp("emulator")
    log = state / "server.log"
    with log.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, str(LAUNCHER), "--state-dir", str(state)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            # Every service test runs with IAM enforced: its roles' policies must suffice.
            env={**os.environ, "EMULATOR_IAM": os.environ.get("EMULATOR_IAM", "enforce")},
        )
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=10)
        pytest.fail(f"emulator exited ({process.returncode}) before it was ready:\n{log.read_text()[-3000:]}")
    yield Emulator(json.loads(line), log)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_for(condition: Callable[[], T], timeout: float = 90, interval: float = 0.25, what: str = "condition") -> T:
    """Poll until `condition()` returns something truthy; fail with `what` after `timeout` seconds (generous: CI machines are shared)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
