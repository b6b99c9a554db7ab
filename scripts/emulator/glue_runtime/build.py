"""Builds the s3:// file system jar (java/ → <repo>/.build/glue-runtime/emulator-s3fs.jar) with javac.

    .venv/bin/python scripts/emulator/glue_runtime/build.py     # prints the jar's path

Compiled against the Hadoop client API PySpark ships, and rebuilt only when a source changes (the
jar's name carries the sources' hash). The emulator calls `ensure_jar()` before a job run's Spark
starts; without a JDK it fails with how to install one.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SOURCES = HERE / "java"
BUILD = ROOT / ".build" / "glue-runtime"


class BuildError(RuntimeError):
    pass


def _pyspark_jars() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent / "jars"


def ensure_jar() -> Path:
    sources = sorted(SOURCES.rglob("*.java"))
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.relative_to(SOURCES).as_posix().encode() + b"\0" + source.read_bytes())
    jar = BUILD / f"emulator-s3fs-{digest.hexdigest()[:16]}.jar"
    if jar.exists():
        return jar
    javac, jar_tool = shutil.which("javac"), shutil.which("jar")
    if not javac or not jar_tool:
        raise BuildError(
            "javac/jar not found: the emulator's s3:// file system for local Spark is built with a JDK 17 "
            "(Debian/Ubuntu: apt-get install openjdk-17-jdk-headless)"
        )
    classpath = ":".join(str(p) for p in sorted(_pyspark_jars().glob("hadoop-client-api-*.jar")))
    if not classpath:
        raise BuildError(
            f"no hadoop-client-api jar in {_pyspark_jars()}: is PySpark installed in .venv (npm run setup:py)?"
        )
    BUILD.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BUILD) as tmp:
        classes = Path(tmp) / "classes"
        done = subprocess.run(
            [javac, "--release", "17", "-nowarn", "-cp", classpath, "-d", str(classes), *map(str, sources)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BuildError(f"javac failed building {SOURCES}:\n{done.stderr[-4000:]}")
        staged = Path(tmp) / jar.name
        done = subprocess.run(
            [jar_tool, "--create", "--file", str(staged), "-C", str(classes), "."], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise BuildError(f"jar failed: {done.stderr[-2000:]}")
        staged.replace(jar)  # atomic: a concurrent build never sees half a jar
    for old in BUILD.glob("emulator-s3fs-*.jar"):
        if old != jar:
            old.unlink(missing_ok=True)
    return jar


if __name__ == "__main__":
    try:
        print(ensure_jar())
    except BuildError as error:
        sys.exit(f"error: {error}")
