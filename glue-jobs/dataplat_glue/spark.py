"""Spark settings every job applies, the local session, and contract → Spark type mapping."""

from __future__ import annotations

from typing import Iterable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from .contract import Column

#: Session settings the jobs depend on. Applied at run time in Glue and locally alike, so a job
#: behaves the same whatever defaults the cluster has.
JOB_CONF = {
    # Partition values and timestamps are UTC whatever the worker's zone ("date = UTC day").
    "spark.sql.session.timeZone": "UTC",
    # A failed cast must give null (→ a quarantine reason), never fail the whole run.
    "spark.sql.ansi.enabled": "false",
    # Duplicate keys in one JSON object: the last one wins (as JSON.parse does) instead of an error.
    "spark.sql.mapKeyDedupPolicy": "LAST_WIN",
    # Hive path values stay strings ("hour=05" must not become 5).
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    # Run summaries come from Spark observations of the job's one pass. These rules replace plan
    # parts over an empty input (or a stage where every row was rejected) with an empty relation,
    # observation included, and its metrics would never arrive.
    "spark.sql.optimizer.excludedRules": "org.apache.spark.sql.catalyst.optimizer.PropagateEmptyRelation",
    "spark.sql.adaptive.optimizer.excludedRules": "org.apache.spark.sql.execution.adaptive.AQEPropagateEmptyRelation",
    # Validation is one wide projection. HotSpot does not JIT methods over 8000 bytecodes, so a
    # larger generated method must fall back to split, compiled expression code (measured 2.4x faster).
    "spark.sql.codegen.hugeMethodLimit": "8000",
    # Stable, widely readable Parquet: snappy, int64 microsecond timestamps (Athena v3, Spectrum, DuckDB).
    "spark.sql.parquet.compression.codec": "snappy",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


#: Options of every Parquet write: V1 data pages with dictionaries, the layout every consumer of the
#: lake reads (Athena, Redshift Spectrum, QuickSight through Athena, DuckDB, pyarrow). V2 pages
#: without dictionaries made reruns byte-identical (parquet-mr lists a column chunk's encodings in
#: JVM hash order), but they encode decimals as DELTA_BYTE_ARRAY, which DuckDB cannot read and
#: Spectrum does not document. Reruns are identical in content — same files, schema and rows in the
#: same order — which is what the tests check; footers may list encodings in another order.
PARQUET_WRITE_OPTIONS = {"parquet.writer.version": "v1", "parquet.enable.dictionary": "true"}


def write_parquet(df: DataFrame, path: str, partition_by: list[str]) -> None:
    writer = df.write.mode("overwrite")
    for key, value in PARQUET_WRITE_OPTIONS.items():
        writer = writer.option(key, value)
    writer.partitionBy(*partition_by).parquet(path)


def configure(spark: SparkSession) -> SparkSession:
    for key, value in JOB_CONF.items():
        spark.conf.set(key, value)
    return spark


def local_session(
    app: str = "dataplat-glue-local", cores: int = 2, shuffle_partitions: int = 4, driver_memory: str = "2g"
) -> SparkSession:
    """A plain PySpark session standing in for Glue 5.0 (Spark 3.5) on local paths."""
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app)
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.default.parallelism", str(cores))
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Local files without .crc side files, and no _SUCCESS markers: output dirs hold data only.
        .config("spark.hadoop.fs.file.impl", "org.apache.hadoop.fs.RawLocalFileSystem")
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .config("spark.driver.extraJavaOptions", "-Dlog4j2.level=ERROR")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return configure(spark)


def spark_type(type_name: str) -> T.DataType:
    """The Spark type a contract column is written as (and the catalog declares)."""
    simple = {
        "string": T.StringType(),
        "int": T.IntegerType(),
        "bigint": T.LongType(),
        "double": T.DoubleType(),
        "boolean": T.BooleanType(),
        "date": T.DateType(),
        "timestamp": T.TimestampType(),
    }
    if type_name in simple:
        return simple[type_name]
    col = Column(name="_", type=type_name)
    if col.decimal is None:
        raise ValueError(f"unsupported column type {type_name!r}")
    return T.DecimalType(*col.decimal)


def struct_of(columns: Iterable[Column], string_columns: Iterable[str] = ()) -> T.StructType:
    """A schema for `columns`, plus `string_columns` (partition values as Hive paths carry them)."""
    fields = [T.StructField(c.name, spark_type(c.type), True) for c in columns]
    fields += [T.StructField(n, T.StringType(), True) for n in string_columns]
    return T.StructType(fields)
