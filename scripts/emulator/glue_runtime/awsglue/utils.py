"""awsglue.utils, as far as the jobs use it: getResolvedOptions."""

from __future__ import annotations

import argparse
from typing import Sequence

__all__ = ["getResolvedOptions"]


def getResolvedOptions(args: Sequence[str], options: Sequence[str]) -> dict[str, str]:  # noqa: N802 - Glue's name
    """The values of `--<option> value` pairs named in `options`; other arguments are ignored and a
    missing one exits with argparse's error, as Glue's resolver does."""
    parser = argparse.ArgumentParser(prog="glue-job")
    for option in options:
        parser.add_argument(f"--{option}", required=True)
    known, _ = parser.parse_known_args(list(args)[1:] if args and not str(args[0]).startswith("--") else list(args))
    return {option: getattr(known, option) for option in options}
