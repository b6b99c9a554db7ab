"""Glue entry point — DynamoDB → raw: full extract through the export connector (no read capacity used).

Thin on purpose: the logic is in the `dataplat_glue` package, shipped with `--extra-py-files`.
Glue: arguments per glue-jobs/README.md. Locally: `python glue-jobs/jobs/dynamodb_extract.py --local ...`.
"""

import sys

try:
    from dataplat_glue import dynamodb_extract
except ImportError:  # a checkout rather than Glue: the package sits next to this folder
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from dataplat_glue import dynamodb_extract

dynamodb_extract.main(sys.argv)
