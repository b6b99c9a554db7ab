"""Starts the project's emulator (scripts/emulator/launcher.py: moto over TLS, gaps filled) for a
test module, as scripts/emulator/index.ts does for the TypeScript tests: the launcher prints one
JSON line when ready and exits when its stdin closes."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "scripts" / "emulator" / "launcher.py"
ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass
class Emulator:
    endpoint: str
    ca_bundle: str
    process: subprocess.Popen

    def env(self) -> dict[str, str]:
        """What boto3 (and the jobs' boto3 clients) need to talk to the emulator as the default account."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_CA_BUNDLE": self.ca_bundle,
            "AWS_ACCESS_KEY_ID": f"AKIA{ACCOUNT}EMUL",
            "AWS_SECRET_ACCESS_KEY": "emulator",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            verify=self.ca_bundle,
            region_name=REGION,
            aws_access_key_id=f"AKIA{ACCOUNT}EMUL",
            aws_secret_access_key="emulator",
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()  # the launcher's parent watch: it exits when stdin closes
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.terminate()


def start(state_dir: Path, extra_env: dict[str, str] | None = None) -> Emulator:
    if not LAUNCHER.exists():
        raise RuntimeError(f"the emulator launcher is missing at {LAUNCHER}")
    python = ROOT / ".venv" / "bin" / "python"
    if not python.exists():
        raise RuntimeError(f"{python} is missing: create the project's virtualenv (see README.md, Local setup)")
    process = subprocess.Popen(
        [str(python), str(LAUNCHER), "--port", "0", "--state-dir", str(state_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=open(state_dir / "emulator.log", "w"),
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})},
    )
    line = process.stdout.readline()
    if not line:
        log = (state_dir / "emulator.log").read_text()[-3000:]
        raise RuntimeError(f"the emulator did not start (exit {process.poll()}):\n{log}")
    ready = json.loads(line)
    return Emulator(ready["endpoint"], ready["caBundle"], process)


def running(tmp_path_factory: Any, extra_env: dict[str, str] | None = None) -> Iterator[Emulator]:
    """A module-scoped fixture body: `yield from running(tmp_path_factory)`."""
    emulator = start(tmp_path_factory.mktemp("emulator"), extra_env)
    try:
        yield emulator
    finally:
        emulator.stop()
