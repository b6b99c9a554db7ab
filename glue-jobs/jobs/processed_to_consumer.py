"""Glue entry point — processed → consumer: the curated copy or the aggregate of the contract's consumer view.

Thin on purpose: the logic is in the `dataplat_glue` package, shipped with `--extra-py-files`.
Glue: arguments per glue-jobs/README.md. Locally: `python glue-jobs/jobs/processed_to_consumer.py --local ...`.
"""

import sys

try:
    from dataplat_glue import processed_to_consumer
except ImportError:  # a checkout rather than Glue: the package sits next to this folder
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from dataplat_glue import processed_to_consumer

processed_to_consumer.main(sys.argv)
