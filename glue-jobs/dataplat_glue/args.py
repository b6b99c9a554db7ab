"""Job arguments, the same names in Glue and locally.

In Glue, arguments arrive as `--name value` pairs in `sys.argv` and are read with awsglue's
`getResolvedOptions` (imported only on that path, so the package imports without awsglue).
Locally, `--local` switches to argparse over the same names. Glue has no optional arguments, so an
optional one is resolved only when present in argv.
"""

from __future__ import annotations

import argparse
import datetime as _dt
from dataclasses import dataclass
from typing import Optional, Sequence


@dataclass(frozen=True)
class Arg:
    name: str
    help: str
    example: str
    required: bool = True
    default: Optional[str] = None


@dataclass(frozen=True)
class JobArgs:
    values: dict[str, Optional[str]]
    local: bool

    def __getitem__(self, name: str) -> str:
        value = self.values.get(name)
        if value is None:
            raise KeyError(f"argument --{name} is missing")
        return value

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        value = self.values.get(name)
        return default if value is None else value

    def flag(self, name: str) -> bool:
        value = (self.get(name) or "false").strip().lower()
        if value not in ("true", "false"):
            raise ValueError(f"argument --{name} must be true or false (got {value!r})")
        return value == "true"

    def integer(self, name: str) -> int:
        value = self[name]
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"argument --{name} must be an integer (got {value!r})") from None

    def run_id(self) -> str:
        """--run_id, else Glue's JOB_RUN_ID, else a UTC timestamp (local runs)."""
        return (
            self.get("run_id")
            or self.get("JOB_RUN_ID")
            or _dt.datetime.now(_dt.timezone.utc).strftime("local-%Y%m%dT%H%M%SZ")
        )

    def run_file(self, name: str, run_id: str) -> Optional[str]:
        """Argument `name` as a file of run `run_id`: a value ending in "/" is a folder (the jobs' default
        summary locations), and the run's file in it is `<run_id>.json`, so no run replaces another's."""
        value = self.get(name)
        if value and value.endswith("/"):
            return f"{value}{run_id}.json"
        return value


def resolve(argv: Sequence[str], spec: Sequence[Arg], description: str = "") -> JobArgs:
    argv = list(argv)
    if "--local" in argv:
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument("--local", action="store_true", help="run with a local SparkSession on local paths")
        for a in spec:
            parser.add_argument(
                f"--{a.name}", required=a.required, default=a.default, help=f"{a.help} (e.g. {a.example})"
            )
        # argv may start with the script path (sys.argv) or directly with the options.
        ns = parser.parse_args(argv[1:] if argv and not argv[0].startswith("--") else argv)
        values = {a.name: getattr(ns, a.name) for a in spec}
        return JobArgs(values=values, local=True)

    from awsglue.utils import getResolvedOptions  # Glue-only module: imported on the Glue path only

    wanted = ["JOB_NAME"] + [a.name for a in spec if a.required or f"--{a.name}" in argv]
    if "--JOB_RUN_ID" in argv:
        wanted.append("JOB_RUN_ID")
    resolved = getResolvedOptions(argv, wanted)
    values = {a.name: resolved.get(a.name, a.default) for a in spec}
    values["JOB_NAME"] = resolved.get("JOB_NAME")
    values["JOB_RUN_ID"] = resolved.get("JOB_RUN_ID")
    return JobArgs(values=values, local=False)


def parse_as_of(value: Optional[str]) -> _dt.datetime:
    """--as_of: an ISO-8601 instant; default now (UTC)."""
    if not value:
        return _dt.datetime.now(_dt.timezone.utc)
    try:
        parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"argument --as_of must be an ISO-8601 timestamp (got {value!r})") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_dt.timezone.utc)
