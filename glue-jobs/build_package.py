"""Builds the `--extra-py-files` archive of the Glue jobs, deterministically.

    python3 glue-jobs/build_package.py [--out glue-jobs/dist/dataplat_glue.zip]

prints `<sha256>  <path>`. The zip holds `dataplat_glue/*.py` at its root (so Glue's Python path
entry for the zip makes `import dataplat_glue` work), entries sorted by name, every timestamp
1980-01-01 00:00, mode 0644, stored uncompressed (no zlib version can change the bytes), line
endings normalised to LF. The same sources give the same bytes on any machine, so the S3 object
can be keyed by its hash and an unchanged package never redeploys. Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "dataplat_glue"
DEFAULT_OUT = HERE / "dist" / "dataplat_glue.zip"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def sources(package: Path = PACKAGE) -> list[Path]:
    return sorted(
        (p for p in package.rglob("*.py") if "__pycache__" not in p.parts),
        key=lambda p: p.relative_to(package.parent).as_posix(),
    )


def build_bytes(package: Path = PACKAGE) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in sources(package):
            info = zipfile.ZipInfo(path.relative_to(package.parent).as_posix(), date_time=_EPOCH)
            info.create_system = 3  # unix, whatever the build machine
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_STORED
            zf.writestr(info, path.read_bytes().replace(b"\r\n", b"\n"))
    return buffer.getvalue()


def build(out: Path = DEFAULT_OUT, package: Path = PACKAGE) -> str:
    data = build_bytes(package)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ns = parser.parse_args()
    print(f"{build(ns.out)}  {ns.out}")
