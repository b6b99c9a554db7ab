"""raw → processed: parse raw NDJSON, check it against the contract, deduplicate, write Parquet.

For every input line exactly one thing happens: it is written to processed, or it lands in
quarantine with a reason code (`validate.REASONS`). The run summary counts both, and the job fails
if they do not add up to the input.

Deduplication keeps, per primary key *within a partition*, the row with the highest
`versionColumn` (ties: content hash, then this run's row over the stored one). Partitions the run
touches are rebuilt from their stored rows plus this run's rows (`--rebuild true` drops the stored
rows), so any batching of raw files — one file per run, a day per run, or a rerun of the same input
— converges on the same files, byte for byte.

How it stays cheap (no caching: measured slower than reading twice here):
1. One pass: read text → validate → shuffle by partition → rank versions → write staging Parquet.
   Counts, and 16-byte locators (hashes of source file and line) of rejected and superseded lines,
   are collected as Spark observations of that same pass. The locators stay in the JVM: they become
   the quarantine pass's join table without a round trip through JSON or Python.
2. Partitions that already hold data are merged with it (only those are read and rewritten).
3. Only when something was rejected: the raw *text* is scanned again, the located lines are
   re-validated with messages, and written to quarantine with their original text.
"""
from __future__ import annotations

import json
import threading
import uuid
from typing import Any, Optional, Sequence

from pyspark.sql import DataFrame, Observation, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from . import runtime
from .args import Arg, JobArgs, parse_as_of
from .contract import JobContract
from .spark import configure, struct_of, write_parquet
from .storage import Storage, commit_partitions, join
from .validate import REASONS, ValidationOptions, classify, unexpected_columns

JOB = "raw_to_processed"
DESCRIPTION = "raw NDJSON → contract-checked, deduplicated, partitioned Parquet (+ quarantine, run summary)"

ARGS = [
    Arg("dataset_contract", "the dataset's job contract (PartitionedDataset.jobContract() as JSON)", "'{\"name\":\"orders\",...}'"),
    Arg("input_path", "raw newline-delimited JSON, gzip or plain: files or folders, comma-separated, read recursively",
        "s3://dataplat-dev-raw/orders/dt=2024-05-01/"),
    Arg("output_path", "the dataset's root in the processed zone", "s3://dataplat-dev-processed/orders/"),
    Arg("quarantine_path", "folder for this run's rejected rows; a rerun replaces its part-* files",
        "s3://dataplat-dev-quarantine/orders/raw_to_processed/dt=2024-05-01/"),
    Arg("summary_path", "file the run summary JSON is written to",
        "s3://dataplat-dev-quarantine/orders/raw_to_processed/dt=2024-05-01/_summary.json"),
    Arg("run_id", "id stamped on quarantine records and the summary (default: Glue's JOB_RUN_ID)", "sfn-exec-42", required=False),
    Arg("as_of", "reference time of the future-date rule, ISO-8601 (default: now)", "2024-05-02T00:00:00Z", required=False),
    Arg("max_future_days", "events dated more than this many days after as_of are quarantined", "1", required=False, default="1"),
    Arg("max_record_bytes", "lines longer than this are quarantined unparsed", "1048576", required=False, default="1048576"),
    Arg("rebuild", "true: touched partitions hold only this run's rows (no merge with stored rows)", "false", required=False, default="false"),
    Arg("staging_path", "scratch folder for Spark's output before the commit (default: <output_path>/_staging)",
        "s3://dataplat-dev-processed/orders/_staging/", required=False),
]

PARQUET = ".snappy.parquet"
#: Lines sampled for keys the contract does not know (schema drift is reported, not rejected).
DRIFT_SAMPLE = 10_000
_ISO = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"


def read_raw(spark: SparkSession, inputs: Sequence[str]) -> DataFrame:
    """Every line of the input files (gzip decompressed by extension), with its file."""
    return (
        spark.read.option("recursiveFileLookup", "true").text(list(inputs))
        .select(F.col("value").alias("_record"), F.input_file_name().alias("_source_file"))
    )


def with_locator(df: DataFrame) -> DataFrame:
    """Adds `_fh`/`_lh`, hashes of a line's file and text: how a rejected line is found again."""
    return df.select("*", F.xxhash64("_source_file").alias("_fh"), F.xxhash64("_record").alias("_lh"))


def dedupe_key(contract: JobContract) -> list[str]:
    """Rows are versions of one record when they share the partition values and the primary key."""
    return list(dict.fromkeys(contract.partition_names + list(contract.primary_key)))


def content_hash(contract: JobContract) -> Any:
    return F.xxhash64(*[F.col(c.name) for c in contract.columns])


def rank(candidates: DataFrame, contract: JobContract) -> DataFrame:
    """Numbers the versions of each record (`_rn` 1 = kept) and notes the kept version and origin."""
    version = contract.version_column
    ordered = Window.partitionBy(*dedupe_key(contract)).orderBy(
        F.col(version).desc(), F.col("_hash").desc(), F.col("_origin").asc(), F.col("_lh").asc())
    return (
        # One shuffle: clustering by the partition columns serves both the per-partition window and
        # the writer (every partition's rows in one task → one file per partition).
        candidates.repartition(*contract.partition_names)
        .withColumn("_hash", content_hash(contract))
        .select("*", F.row_number().over(ordered).alias("_rn"),
                F.first(version).over(ordered).alias("_winner_version"), F.first("_origin").over(ordered).alias("_winner_origin"))
    )


def processed_rows(ranked: DataFrame, contract: JobContract) -> DataFrame:
    """The kept rows as written: data columns in contract order, then the partition columns."""
    out_cols = [c.name for c in contract.data_columns] + contract.partition_names
    return ranked.where(F.col("_rn") == 1).select(*out_cols).sortWithinPartitions(*dedupe_key(contract))


def _observation(prefix: str) -> Observation:
    return Observation(f"{prefix}-{uuid.uuid4().hex}")


def _observed(observation: Observation, timeout_s: float = 600.0) -> dict[str, Any]:
    """An observation's metrics, failing after `timeout_s` instead of waiting forever
    (`Observation.get` blocks for good when Spark optimised the observed node away)."""
    result: dict[str, Any] = {}
    waiter = threading.Thread(target=lambda: result.update(metrics=observation.get), daemon=True)
    waiter.start()
    waiter.join(timeout_s)
    if "metrics" not in result:
        raise RuntimeError(f"Spark reported no metrics for observation {observation._name} within {timeout_s:.0f}s")
    return result["metrics"]


#: Locators of the lines the quarantine pass must find again, as the observations collect them.
BAD_LOCATOR = T.StructType([T.StructField("f", T.LongType()), T.StructField("l", T.LongType())])
SUPERSEDED_LOCATOR = T.StructType([*BAD_LOCATOR.fields, T.StructField("w", T.StringType())])


class Collected:
    """A `collect_list` observation metric, kept in the JVM: its size, and a DataFrame of its rows
    built there (Spark's own Rows; Python only holds a reference). Empty when absent."""

    def __init__(self, spark: SparkSession, seq: Any, schema: T.StructType):
        self._spark, self._seq, self._schema = spark, seq, schema

    def __len__(self) -> int:
        return 0 if self._seq is None else int(self._seq.size())

    def frame(self) -> DataFrame:
        jvm = self._spark._jvm
        rows = jvm.java.util.ArrayList() if self._seq is None else jvm.scala.collection.JavaConverters.seqAsJavaList(self._seq)
        jschema = jvm.org.apache.spark.sql.types.DataType.fromJson(self._schema.json())
        return DataFrame(self._spark._jsparkSession.createDataFrame(rows, jschema), self._spark)


class _Run:
    def __init__(self, spark: SparkSession, args: JobArgs):
        self.spark = spark
        self.contract = JobContract.from_json(args["dataset_contract"])
        self.options = ValidationOptions(
            max_record_bytes=args.integer("max_record_bytes"),
            as_of=parse_as_of(args.get("as_of")),
            max_future_days=args.integer("max_future_days"),
        )
        self.run_id = args.run_id()
        self.inputs = [p.strip() for p in args["input_path"].split(",") if p.strip()]
        self.output, self.quarantine_path, self.summary_path = args["output_path"], args["quarantine_path"], args["summary_path"]
        self.rebuild = args.flag("rebuild")
        self.storage = Storage(spark)
        self.staging = join(args.get("staging_path") or join(self.output, "_staging"), self.run_id)
        names = [c.name for c in self.contract.columns]
        self.pnames = self.contract.partition_names
        self.all_cols = names + [p for p in self.pnames if p not in names]

    # -- 1. the one pass over the input ------------------------------------------------------------

    def input_plan(self) -> tuple[DataFrame, Observation, Observation]:
        """The one pass: raw text → validated rows → ranked versions → the rows to write, observed on
        the way. (The first observation also keeps Spark from pushing the good-row filter into the
        scan, which would copy from_json into it and parse every line twice.)"""
        classified = with_locator(classify(read_raw(self.spark, self.inputs), self.contract, self.options))
        seen = _observation("input")
        counts = [F.count(F.when(F.col("_reason") == r, 1)).alias(r) for r in REASONS if r != "duplicate_superseded"]
        observed = classified.observe(
            seen, F.count(F.lit(1)).alias("records"), *counts,
            F.collect_list(F.when(F.col("_reason").isNotNull(), F.struct(F.col("_fh").alias("f"), F.col("_lh").alias("l")))).alias("bad"),
        )
        good = observed.where(F.col("_reason").isNull()).select(*self.all_cols, "_fh", "_lh", F.lit(0).alias("_origin"))
        kept = _observation("kept")
        ranked = rank(good, self.contract).observe(
            kept,
            F.count(F.when(F.col("_rn") == 1, 1)).alias("kept"),
            F.collect_list(F.when(F.col("_rn") > 1, F.struct(
                F.col("_fh").alias("f"), F.col("_lh").alias("l"), F.date_format("_winner_version", _ISO).alias("w")))).alias("superseded"),
        )
        return processed_rows(ranked, self.contract), seen, kept

    def dedupe_input(self) -> tuple[dict[str, Any], Collected, int, Collected]:
        """Runs the one pass; returns the input counts by reason, the rejected lines' locators, the
        number of rows kept and the superseded lines' locators."""
        rows, seen, kept = self.input_plan()
        write_parquet(rows, join(self.staging, "input"), self.pnames)
        counts = _observed(seen)
        bad = Collected(self.spark, counts.pop("bad"), BAD_LOCATOR)
        if counts["records"] == sum(counts[r] for r in REASONS if r != "duplicate_superseded"):
            # Nothing passed validation: Spark skips everything after the shuffle, observation included.
            return counts, bad, 0, Collected(self.spark, None, SUPERSEDED_LOCATOR)
        ranked = _observed(kept)
        return counts, bad, int(ranked["kept"]), Collected(self.spark, ranked["superseded"], SUPERSEDED_LOCATOR)

    # -- 2. merge with what the touched partitions already hold ------------------------------------

    def merge(self, partitions: list[str]) -> list[dict[str, Any]]:
        """Rewrites `partitions` (staged) together with their stored rows; returns this run's rows
        that lost to a stored row, by content hash."""
        schema = struct_of(self.contract.data_columns, self.pnames)

        def read(root: str, origin: int) -> DataFrame:
            return (self.spark.read.schema(schema).option("basePath", root).parquet(*[join(root, p) for p in partitions])
                    .select(*self.all_cols, F.lit(None).cast("long").alias("_fh"), F.lit(None).cast("long").alias("_lh"), F.lit(origin).alias("_origin")))

        lost = _observation("merge")
        ranked = rank(read(join(self.staging, "input"), 0).unionByName(read(self.output, 1)), self.contract).observe(
            lost,
            F.to_json(F.collect_list(F.when((F.col("_rn") > 1) & (F.col("_origin") == 0), F.struct(
                F.col("_hash").alias("h"), F.date_format("_winner_version", _ISO).alias("w"), F.col("_winner_origin").alias("o"))))).alias("lost"),
        )
        write_parquet(processed_rows(ranked, self.contract), join(self.staging, "merged"), self.pnames)
        return json.loads(_observed(lost)["lost"])

    # -- 3. quarantine ----------------------------------------------------------------------------

    def quarantine(self, bad_lines: Collected, superseded_lines: Collected, lost: list[dict]) -> Optional[DataFrame]:
        """The rejected lines with their original text, found again by locator (or, for rows that lost
        to stored data, by content); re-validated here to get the column and message."""
        if not bad_lines and not superseded_lines and not lost:
            return None
        lines = with_locator(read_raw(self.spark, self.inputs))
        frames = []
        if bad_lines or superseded_lines:
            # The observed locator lists, as DataFrames built in the JVM (no Python-side rows).
            bad = bad_lines.frame().select(
                F.col("f").alias("_fh"), F.col("l").alias("_lh"), F.lit("bad").alias("_kind"),
                F.lit(None).cast("string").alias("_winner"), F.lit(None).cast("int").alias("_winner_origin"))
            superseded = superseded_lines.frame().select(
                F.col("f").alias("_fh"), F.col("l").alias("_lh"), F.lit("superseded").alias("_kind"),
                F.col("w").alias("_winner"), F.lit(0).alias("_winner_origin"))
            key = ["_fh", "_lh", "_kind", "_winner", "_winner_origin"]
            locators = bad.unionByName(superseded).groupBy(*key).agg(F.count(F.lit(1)).cast("int").alias("_copies"))
            frames.append(self._copies(lines.join(F.broadcast(locators), ["_fh", "_lh"]), key + ["_copies"]))
        if lost:
            by_hash = self.spark.createDataFrame([(x["h"], "superseded", x["w"], x["o"], 1) for x in lost],
                                                 "_hash long, _kind string, _winner string, _winner_origin int, _copies int")
            candidates = classify(lines, self.contract, self.options).where(F.col("_reason").isNull()).withColumn("_hash", content_hash(self.contract))
            frames.append(self._copies(candidates.select("_record", "_source_file", "_hash").join(F.broadcast(by_hash), "_hash"),
                                       ["_hash", "_kind", "_winner", "_winner_origin", "_copies"]))
        located = frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1], allowMissingColumns=True)
        described = classify(located.select("_record", "_source_file", "_kind", "_winner", "_winner_origin"), self.contract, self.options,
                             messages=True, keep=["_kind", "_winner", "_winner_origin"])
        version = self.contract.version_column
        key_text = F.concat_ws(", ", *[F.concat(F.lit(f"{k}="), F.col(k).cast("string")) for k in self.contract.primary_key])
        where = F.concat(*[F.concat(F.lit(f"{p}="), F.col(p), F.lit("/")) for p in self.pnames])
        superseded_message = F.concat(
            key_text, F.lit(" in "), where, F.lit(f": kept the version with {version} "), F.col("_winner"),
            F.when(F.col("_winner_origin") == 1, F.lit(" (already in processed)")).otherwise(F.lit("")),
            F.lit(f"; this row's {version} is "), F.date_format(version, _ISO))
        is_superseded = F.col("_kind") == "superseded"
        return described.select(
            F.lit(self.run_id).alias("run_id"), F.lit(self.contract.name).alias("dataset"), F.lit(JOB).alias("job"),
            F.when(is_superseded, F.lit("duplicate_superseded")).otherwise(F.col("_reason")).alias("reason"),
            F.when(is_superseded, F.lit(None)).otherwise(F.col("_column")).cast("string").alias("column"),
            F.when(is_superseded, superseded_message).otherwise(F.col("_message")).alias("message"),
            F.col("_record").alias("record"), F.col("_source_file").alias("source_file"),
        ).repartition(1).sortWithinPartitions("reason", "source_file", "record", "message")

    @staticmethod
    def _copies(matched: DataFrame, key: list[str]) -> DataFrame:
        """One row per located line: identical lines share a locator, so take the text once and repeat it
        as many times as lines were rejected."""
        one = matched.groupBy(*key).agg(F.min("_record").alias("_record"), F.min("_source_file").alias("_source_file"))
        return one.select("*", F.explode(F.sequence(F.lit(1), F.col("_copies"))).alias("_copy")).drop("_copy", "_copies", "_fh", "_lh", "_hash")

    # -- the run ----------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        self.storage.delete(self.staging)
        drift = unexpected_columns(read_raw(self.spark, self.inputs), self.contract, DRIFT_SAMPLE)
        seen, bad, kept, superseded = self.dedupe_input()
        touched = sorted({self._partition_of(rel) for rel in self.storage.list_files(join(self.staging, "input")) if rel.endswith(PARQUET)})
        stored = [p for p in touched if not self.rebuild and any(f.endswith(PARQUET) for f in self.storage.list_dir_files(join(self.output, p)))]
        lost = self.merge(stored) if stored else []
        for p in stored:
            self.storage.delete(join(self.staging, "input", p))

        by_reason = {r: int(seen[r]) for r in REASONS if r != "duplicate_superseded" and seen[r]}
        if superseded or lost:
            by_reason["duplicate_superseded"] = len(superseded) + len(lost)
        input_records, processed_records = int(seen["records"]), kept - len(lost)
        quarantined = sum(by_reason.values())
        if input_records != processed_records + quarantined or len(bad) != quarantined - by_reason.get("duplicate_superseded", 0):
            raise RuntimeError(f"{self.contract.name}: counts do not reconcile: input {input_records} != processed {processed_records} "
                               f"+ quarantined {quarantined} {by_reason} (located {len(bad)} rejected lines)")

        rejected = self.quarantine(bad, superseded, lost)
        if rejected is not None:
            rejected.write.mode("overwrite").option("ignoreNullFields", "false").json(join(self.staging, "quarantine"))
            written = self.spark.read.text(join(self.staging, "quarantine")).count()
            if written != quarantined:
                raise RuntimeError(f"{self.contract.name}: {quarantined} rows to quarantine but {written} were found again in the input")

        committed = commit_partitions(self.storage, join(self.staging, "input"), self.output, PARQUET)
        committed += commit_partitions(self.storage, join(self.staging, "merged"), self.output, PARQUET)
        quarantine_files = commit_partitions(self.storage, join(self.staging, "quarantine"), self.quarantine_path, ".json", replace=("",))
        self.storage.delete(self.staging)

        rows = self._rows([c.path for c in committed])
        summary = {
            "job": JOB,
            "dataset": self.contract.name,
            "runId": self.run_id,
            "asOf": self.options.as_of.isoformat().replace("+00:00", "Z"),
            "input": {"paths": self.inputs, "records": input_records},
            "processed": {
                "path": self.output,
                "records": processed_records,
                "partitions": [{"path": c.path, "rows": rows[c.path], "files": list(c.files)} for c in sorted(committed, key=lambda c: c.path)],
            },
            "quarantined": {
                "path": self.quarantine_path,
                "records": quarantined,
                "byReason": {r: by_reason[r] for r in REASONS if r in by_reason},
                "files": [f for c in quarantine_files for f in c.files],
            },
            "unexpectedColumns": {"sampledRecords": DRIFT_SAMPLE, "columns": dict(sorted(drift.items()))},
            "reconciled": True,
        }
        self.storage.write_text(self.summary_path, json.dumps(summary, indent=2) + "\n")
        return summary

    def _partition_of(self, rel: str) -> str:
        return "".join(f"{seg}/" for seg in rel.split("/")[: len(self.pnames)])

    def _rows(self, partitions: list[str]) -> dict[str, int]:
        if not partitions:
            return {}
        written = (self.spark.read.schema(struct_of(self.contract.data_columns, self.pnames)).option("basePath", self.output)
                   .parquet(*[join(self.output, p) for p in partitions]))
        return {self.contract.partition_path(r.asDict()): r["n"] for r in written.groupBy(*self.pnames).agg(F.count(F.lit(1)).alias("n")).collect()}


def run(spark: SparkSession, args: JobArgs, glue_context: Any = None) -> dict[str, Any]:
    configure(spark)
    return _Run(spark, args).run()


def main(argv: Optional[Sequence[str]] = None, spark: Optional[SparkSession] = None) -> dict[str, Any]:
    return runtime.main(run, ARGS, DESCRIPTION, argv, spark)
