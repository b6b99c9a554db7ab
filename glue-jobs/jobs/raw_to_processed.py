"""Glue entry point — raw → processed: contract checks, quarantine, deduplication, partitioned Parquet.

Thin on purpose: the logic is in the `dataplat_glue` package, shipped with `--extra-py-files`.
Glue: arguments per glue-jobs/README.md. Locally: `python glue-jobs/jobs/raw_to_processed.py --local ...`.
"""

import sys

try:
    from dataplat_glue import raw_to_processed
except ImportError:  # a checkout rather than Glue: the package sits next to this folder
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from dataplat_glue import raw_to_processed

raw_to_processed.main(sys.argv)
