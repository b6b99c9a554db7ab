"""The data platform's Glue (PySpark) jobs: importable logic shared by the thin entry scripts in
`glue-jobs/jobs/`. Shipped to Glue as a zip through `--extra-py-files` (see build_package.py)."""
