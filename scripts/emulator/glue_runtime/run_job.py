"""One Glue job run's process (started by services/glue_jobs.py, never by hand).

    python run_job.py <run.json>

Starts the Spark session the way Glue has one ready before the script runs (s3:// and s3a:// served
by EmulatorS3FileSystem with the run's credentials, the JDBC driver jar on the classpath), then runs
the job's script as `__main__` with Glue's argv. The exception that ends a failed run is written,
as one line, to the run file's `resultOut`; the storage figures of the run go to stdout (the run's
output log) as a last line starting `dataplat-glue-storage `.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _die_with_the_emulator() -> None:
    """The run's process group (this process and its JVM) ends when the emulator does, however it ends."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, daemon=True).start()


def main(run_file: str) -> int:
    _die_with_the_emulator()
    with open(run_file, encoding="utf-8") as fh:
        run = json.load(fh)
    os.environ["DATAPLAT_GLUE_RUN"] = run_file
    sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)), *run["pythonPath"]]
    result: dict = {}
    spark = None
    try:
        spark = _session(run)
        for path in run["pythonPath"]:
            # Glue ships --extra-py-files to the executors as well: a UDF's Python worker imports from them.
            spark.sparkContext.addPyFile(path)
        sys.argv = [run["script"], *run["argv"]]
        try:
            runpy.run_path(run["script"], run_name="__main__")
        except SystemExit as done:
            if done.code not in (None, 0):
                raise RuntimeError(f"the script exited with {done.code}") from None
    except BaseException as error:  # noqa: BLE001 - every failure becomes the run's ErrorMessage
        traceback.print_exc()
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        result["error"] = f"{type(error).__name__}: {message}" if message else type(error).__name__
    finally:
        if spark is not None:
            print("dataplat-glue-storage " + json.dumps(_storage(spark)), flush=True)
        with open(run["resultOut"], "w", encoding="utf-8") as fh:
            json.dump(result, fh)
        if spark is not None:
            spark.stop()
    return 1 if "error" in result else 0


def _session(run: dict) -> SparkSession:
    from pyspark.sql import SparkSession

    fs = "dataplat.emulator.EmulatorS3FileSystem"
    builder = (
        SparkSession.builder.master(f"local[{run.get('cores', 2)}]")
        .appName(run["jobName"])
        .config("spark.jars", ",".join(run["jars"]))
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", run.get("driverMemory", "1g"))
        # A run here is a short-lived JVM on a laptop's cores, next to others: C1-compiled code and
        # no whole-stage code generation cost less CPU than they lose on a few thousand rows
        # (measured: a third less CPU for the same job tests). Glue's own runtime is untouched.
        .config("spark.sql.codegen.wholeStage", "false")
        .config(
            "spark.driver.extraJavaOptions",
            f"-XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile={os.path.join(os.path.dirname(os.path.abspath(__file__)), 'log4j2.properties')}",
        )
        # Outputs hold data only (no _SUCCESS markers firing Object Created events in the lake).
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
    )
    for scheme in ("s3", "s3a"):
        builder = builder.config(f"spark.hadoop.fs.{scheme}.impl", fs)
    s3 = {
        "endpoint": run["endpoint"],
        "ca-bundle": run["caBundle"],
        "region": run["region"],
        "access-key": os.environ["AWS_ACCESS_KEY_ID"],
        "secret-key": os.environ["AWS_SECRET_ACCESS_KEY"],
        "session-token": os.environ.get("AWS_SESSION_TOKEN", ""),
    }
    for key, value in s3.items():
        builder = builder.config(f"spark.hadoop.dataplat.s3.{key}", value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def _storage(spark: SparkSession) -> dict:
    from awsglue.context import EXPORT_READS

    try:
        figures = json.loads(spark._jvm.dataplat.emulator.EmulatorS3FileSystem.statistics())
    except Exception as error:  # noqa: BLE001 - the figures must never hide the run's own outcome
        figures = {"error": str(error)}
    return {**figures, "exportObjectsRead": EXPORT_READS["objects"], "exportBytesRead": EXPORT_READS["bytes"]}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
