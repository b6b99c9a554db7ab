"""raw → processed: parse raw NDJSON, check it against the contract, deduplicate, write Parquet.

What a run reads is bounded by its input, never by the lake's age:
- `--manifest_path`: the pipeline execution's manifest (`manifest.py`): the objects of one landing
  batch, or a reprocess request for a day range (or all), for which the job lists the dataset's
  raw day folders itself. Nothing outside the manifest is listed or opened.
- `--input_path`: files or folders given by an operator or a test, listed recursively.

Every object is accounted for: read, empty (nothing to read), unreadable (corrupt or truncated
gzip, or bytes that are not UTF-8: the whole object becomes one quarantine record with reason
`unreadable_object`, its siblings are processed), or missing (named by the manifest but gone).
For every line of a readable object exactly one thing happens: it is written to processed, or it
lands in quarantine with a reason code (`validate.REASONS`). The run summary counts all of it, and
the job fails if the counts do not add up.

What processed holds follows the contract's `processed` mode: `current-state` keeps the latest
version per primary key (the partition attributes are immutable per key, which the contract
guarantees by partitioning on a time that versions do not change), `event-log` every version,
deduplicated by key and version. Ties: content hash, then this run's row over the stored one.
Partitions the run touches are rebuilt from their stored rows plus this run's rows (`--rebuild
true` drops the stored rows); no other partition is read or written. So any batching of raw
objects — one per run, a day per run, redelivered, overlapping or out of order — converges on the
same files, byte for byte.

How it stays cheap (no caching: measured slower than reading twice here):
0. A check pass over the run's objects (text only, no parsing): lines per object, and lines that
   are not UTF-8. A read that fails to decompress is narrowed down to its object by halving.
1. One pass: read text → validate → shuffle by partition → rank versions → write staging Parquet.
   Counts, and 16-byte locators (hashes of source file and line) of rejected and superseded lines,
   are collected as Spark observations of that same pass. The locators stay in the JVM: they become
   the quarantine pass's join table without a round trip through JSON or Python.
2. Partitions that already hold data are merged with it (only those are read and rewritten).
3. Only when something was rejected: the objects holding rejected lines are scanned again, the
   located lines are numbered and re-validated with messages, and written to quarantine, one file
   per source object (`<quarantine_path>/objects/<source key>.json`), so a redelivered object
   rewrites its own file with the same rows and no run touches another object's rejects.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from pyspark.sql import DataFrame, Observation, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from . import manifest, runtime
from .args import Arg, JobArgs, parse_as_of
from .contract import JobContract
from .spark import configure, struct_of, write_parquet
from .storage import FileInfo, Storage, commit_partitions, join
from .validate import REASONS, ValidationOptions, classify, unexpected_columns

JOB = "raw_to_processed"
DESCRIPTION = "raw NDJSON → contract-checked, deduplicated, partitioned Parquet (+ quarantine, run summary)"

ARGS = [
    Arg(
        "dataset_contract",
        "the dataset's job contract (PartitionedDataset.jobContract() as JSON)",
        '\'{"name":"events",...}\'',
    ),
    Arg(
        "manifest_path",
        "the pipeline execution's manifest (a batch of {key}, an S3 Object Created event, or a reprocess request); "
        "give this or --input_path",
        "s3://dataplat-dev-quarantine/pipeline-manifests/events/exec-42.json",
        required=False,
    ),
    Arg(
        "raw_root",
        "the dataset's folder in the raw zone: manifest keys resolve against it, a reprocess lists its day folders",
        "s3://dataplat-dev-raw/events/",
        required=False,
    ),
    Arg(
        "input_path",
        "raw newline-delimited JSON, gzip or plain: files or folders, comma-separated, listed recursively; "
        "give this or --manifest_path",
        "s3://dataplat-dev-raw/events/dt=2024-05-01/",
        required=False,
    ),
    Arg("output_path", "the dataset's root in the processed zone", "s3://dataplat-dev-processed/events/"),
    Arg(
        "quarantine_path",
        "the job's quarantine folder: rejected rows of each source object go to objects/<source key>.json",
        "s3://dataplat-dev-quarantine/events/raw_to_processed/",
    ),
    Arg(
        "summary_path",
        "file this run's summary JSON is written to (one per run); a folder ending in / gets <run_id>.json",
        "s3://dataplat-dev-quarantine/events/raw_to_processed/runs/exec-42.json",
    ),
    Arg("run_id", "id stamped on the summary (default: Glue's JOB_RUN_ID)", "sfn-exec-42", required=False),
    Arg(
        "as_of",
        "reference time of the future-date rule, ISO-8601 (default: now)",
        "2024-05-02T00:00:00Z",
        required=False,
    ),
    Arg(
        "max_future_days",
        "events dated more than this many days after as_of are quarantined",
        "1",
        required=False,
        default="1",
    ),
    Arg(
        "max_record_bytes",
        "lines longer than this are quarantined unparsed",
        "1048576",
        required=False,
        default="1048576",
    ),
    Arg(
        "rebuild",
        "true: touched partitions hold only this run's rows (no merge with stored rows)",
        "false",
        required=False,
        default="false",
    ),
    Arg(
        "staging_path",
        "scratch folder for Spark's output before the commit (default: <output_path>/_staging)",
        "s3://dataplat-dev-processed/events/_staging/",
        required=False,
    ),
]

#: Reasons a line gets in the one pass (superseded rows are found by ranking, unreadable objects before).
LINE_REASONS = [r for r in REASONS if r not in ("duplicate_superseded", "unreadable_object")]
#: Where the quarantine records of one source object live, under --quarantine_path.
OBJECTS = "objects"
#: Parallel metadata calls (existence and size of manifest objects) from the driver.
STAT_THREADS = 8

PARQUET = ".snappy.parquet"
#: Lines sampled for keys the contract does not know (schema drift is reported, not rejected).
DRIFT_SAMPLE = 10_000
_ISO = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"


def read_raw(spark: SparkSession, inputs: Sequence[str]) -> DataFrame:
    """Every line of the input files (gzip decompressed by extension), with its file."""
    return (
        spark.read.option("recursiveFileLookup", "true")
        .text(list(inputs))
        .select(F.col("value").alias("_record"), F.input_file_name().alias("_source_file"))
    )


def with_locator(df: DataFrame) -> DataFrame:
    """Adds `_fh`/`_lh`, hashes of a line's file and text: how a rejected line is found again."""
    return df.select("*", F.xxhash64("_source_file").alias("_fh"), F.xxhash64("_record").alias("_lh"))


def dedupe_key(contract: JobContract) -> list[str]:
    return contract.dedupe_key


def content_hash(contract: JobContract) -> Any:
    return F.xxhash64(*[F.col(c.name) for c in contract.columns])


def rank(candidates: DataFrame, contract: JobContract) -> DataFrame:
    """Numbers the versions of each record (`_rn` 1 = kept) and notes the kept version and origin."""
    version = contract.version_column
    ordered = Window.partitionBy(*dedupe_key(contract)).orderBy(
        F.col(version).desc(), F.col("_hash").desc(), F.col("_origin").asc(), F.col("_lh").asc(), F.col("_fh").asc()
    )
    return (
        # One shuffle: clustering by the partition columns serves both the per-partition window and
        # the writer (every partition's rows in one task → one file per partition).
        candidates.repartition(*contract.partition_names)
        .withColumn("_hash", content_hash(contract))
        .select(
            "*",
            F.row_number().over(ordered).alias("_rn"),
            F.first(version).over(ordered).alias("_winner_version"),
            F.first("_origin").over(ordered).alias("_winner_origin"),
        )
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
        rows = (
            jvm.java.util.ArrayList()
            if self._seq is None
            else jvm.scala.collection.JavaConverters.seqAsJavaList(self._seq)
        )
        jschema = jvm.org.apache.spark.sql.types.DataType.fromJson(self._schema.json())
        return DataFrame(self._spark._jsparkSession.createDataFrame(rows, jschema), self._spark)


#: Root causes of a failed read that mean the object's bytes cannot be decoded (corrupt or truncated
#: compression). Anything else (access denied, throttling, ...) fails the run instead.
DECODING_ERRORS = (
    "java.io.EOFException",
    "java.util.zip.ZipException",
    "java.util.zip.DataFormatException",
    "java.nio.charset.MalformedInputException",
    "java.nio.charset.CharacterCodingException",
)


def unreadable_cause(error: BaseException) -> Optional[str]:
    """One line naming why an object could not be read, when `error` is a decoding failure of its
    bytes; None for any other failure. The line is the root Java cause, without its stack trace."""
    java = getattr(error, "java_exception", None)
    if java is None:
        return None
    root = java
    while root.getCause() is not None and not root.getCause().equals(root):
        root = root.getCause()
    name, message = root.getClass().getName(), root.getMessage() or ""
    hint = message.lower()
    decoding = name in DECODING_ERRORS or (
        name == "java.io.IOException"
        and any(w in hint for w in ("gzip", "header check", "deflate", "compress", "corrupt"))
    )
    return " ".join(f"{name}: {message}".split()) if decoding else None


@dataclass(frozen=True)
class RawObject:
    #: The source key: the raw object's key (an --input_path file: its path without the scheme).
    key: str
    #: None when the manifest names an object that is not there.
    file: Optional[FileInfo]


def _input_key(info: FileInfo) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(info.uri).path).lstrip("/")


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
        self.manifest_path, input_path = args.get("manifest_path"), args.get("input_path")
        if bool(self.manifest_path) == bool(input_path):
            raise ValueError(
                "give exactly one of --manifest_path (what a pipeline run landed) and --input_path (files or folders to read)"
                + (" (both were given)" if input_path else " (neither was given)")
            )
        self.raw_root = args.get("raw_root")
        if self.manifest_path and not self.raw_root:
            raise ValueError(
                "argument --raw_root is missing: --manifest_path needs the dataset's folder in the raw zone to resolve its keys"
            )
        self.input_paths = [p.strip() for p in (input_path or "").split(",") if p.strip()]
        self.output, self.quarantine_path, self.summary_path = (
            args["output_path"],
            args["quarantine_path"],
            args.run_file("summary_path", self.run_id),
        )
        self.rebuild = args.flag("rebuild")
        self.storage = Storage(spark)
        self.staging = join(args.get("staging_path") or join(self.output, "_staging"), self.run_id)
        names = [c.name for c in self.contract.columns]
        self.pnames = self.contract.partition_names
        self.all_cols = names + [p for p in self.pnames if p not in names]
        self.request: Optional[manifest.Request] = None
        self.inputs: list[str] = []

    # -- 0. what the run reads --------------------------------------------------------------------

    def objects(self) -> list[RawObject]:
        """The run's objects, sorted by key: the manifest's (or the reprocess range's), or --input_path's."""
        if not self.manifest_path:
            found: dict[str, RawObject] = {}
            for path in self.input_paths:
                info = self.storage.stat(path)
                if info is None:
                    raise FileNotFoundError(f"--input_path {path} does not exist")
                for _, f in [("", info)] if info.is_file else self.storage.walk(path):
                    found.setdefault(f.path, RawObject(_input_key(f), f))
            return sorted(found.values(), key=lambda o: o.key)
        self.request = manifest.parse(self.storage.read_text(self.manifest_path), f"manifest {self.manifest_path}")
        root = self.raw_root.rstrip("/") + "/"
        prefix = root.rstrip("/").rsplit("/", 1)[-1] + "/"
        if self.request.kind == "reprocess":
            date_key = self.contract.date_key.name
            folders = (
                [("", root)]
                if self.request.all
                else [(f"{date_key}={d}/", join(root, f"{date_key}={d}/")) for d in self.request.day_list()]
            )
            return sorted(
                (RawObject(prefix + sub + rel, f) for sub, folder in folders for rel, f in self.storage.walk(folder)),
                key=lambda o: o.key,
            )
        outside = [k for k in self.request.keys if not k.startswith(prefix)]
        if outside:
            raise manifest.ManifestError(
                f"manifest {self.manifest_path}: {len(outside)} key(s) outside the dataset's raw prefix {prefix}, "
                f"e.g. {outside[0][:200]}; nothing was read"
            )
        keys = sorted(self.request.keys)
        with ThreadPoolExecutor(STAT_THREADS) as pool:
            infos = list(pool.map(lambda k: self.storage.stat(join(root, k[len(prefix) :])), keys))
        return [RawObject(k, f if f is not None and f.is_file else None) for k, f in zip(keys, infos)]

    def check(self, objects: list[RawObject]) -> tuple[dict[str, int], dict[str, str]]:
        """The check pass: lines per readable object (by source key), and why each unreadable one is not."""
        lines: dict[str, int] = {}
        unreadable: dict[str, str] = {}
        by_uri = {o.file.uri: o.key for o in objects}

        def attempt(batch: list[RawObject]) -> None:
            try:
                rows = (
                    self.spark.read.text([o.file.path for o in batch])
                    .select(
                        F.input_file_name().alias("f"),
                        (F.col("value").cast("binary") != F.encode("value", "UTF-8")).alias("bad"),
                    )
                    .groupBy("f")
                    .agg(F.count(F.lit(1)).alias("n"), F.count(F.when(F.col("bad"), 1)).alias("bad"))
                    .collect()
                )
            except Exception as error:  # narrowed by unreadable_cause; anything else is re-raised
                cause = unreadable_cause(error)
                if cause is None:
                    raise
                if len(batch) == 1:
                    unreadable[batch[0].key] = cause
                    return
                half = len(batch) // 2
                attempt(batch[:half])
                attempt(batch[half:])
                return
            for r in rows:
                key = by_uri[r["f"]]
                if r["bad"]:
                    unreadable[key] = f"not UTF-8: {r['bad']} of {r['n']} line(s) hold bytes that are not valid UTF-8"
                else:
                    lines[key] = int(r["n"])

        if objects:
            attempt(objects)
        return lines, unreadable

    # -- 1. the one pass over the input ------------------------------------------------------------

    def input_plan(self) -> tuple[DataFrame, Observation, Observation]:
        """The one pass: raw text → validated rows → ranked versions → the rows to write, observed on
        the way. (The first observation also keeps Spark from pushing the good-row filter into the
        scan, which would copy from_json into it and parse every line twice.)"""
        classified = with_locator(classify(read_raw(self.spark, self.inputs), self.contract, self.options))
        seen = _observation("input")
        counts = [F.count(F.when(F.col("_reason") == r, 1)).alias(r) for r in LINE_REASONS]
        observed = classified.observe(
            seen,
            F.count(F.lit(1)).alias("records"),
            *counts,
            F.collect_list(
                F.when(F.col("_reason").isNotNull(), F.struct(F.col("_fh").alias("f"), F.col("_lh").alias("l")))
            ).alias("bad"),
        )
        good = observed.where(F.col("_reason").isNull()).select(*self.all_cols, "_fh", "_lh", F.lit(0).alias("_origin"))
        kept = _observation("kept")
        ranked = rank(good, self.contract).observe(
            kept,
            F.count(F.when(F.col("_rn") == 1, 1)).alias("kept"),
            F.collect_list(
                F.when(
                    F.col("_rn") > 1,
                    F.struct(
                        F.col("_fh").alias("f"),
                        F.col("_lh").alias("l"),
                        F.date_format("_winner_version", _ISO).alias("w"),
                    ),
                )
            ).alias("superseded"),
        )
        return processed_rows(ranked, self.contract), seen, kept

    def dedupe_input(self) -> tuple[dict[str, Any], Collected, int, Collected]:
        """Runs the one pass; returns the input counts by reason, the rejected lines' locators, the
        number of rows kept and the superseded lines' locators."""
        rows, seen, kept = self.input_plan()
        write_parquet(rows, join(self.staging, "input"), self.pnames)
        counts = _observed(seen)
        bad = Collected(self.spark, counts.pop("bad"), BAD_LOCATOR)
        if counts["records"] == sum(counts[r] for r in LINE_REASONS):
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
            return (
                self.spark.read.schema(schema)
                .option("basePath", root)
                .parquet(*[join(root, p) for p in partitions])
                .select(
                    *self.all_cols,
                    F.lit(None).cast("long").alias("_fh"),
                    F.lit(None).cast("long").alias("_lh"),
                    F.lit(origin).alias("_origin"),
                )
            )

        lost = _observation("merge")
        ranked = rank(read(join(self.staging, "input"), 0).unionByName(read(self.output, 1)), self.contract).observe(
            lost,
            F.to_json(
                F.collect_list(
                    F.when(
                        (F.col("_rn") > 1) & (F.col("_origin") == 0),
                        F.struct(
                            F.col("_hash").alias("h"),
                            F.date_format("_winner_version", _ISO).alias("w"),
                            F.col("_winner_origin").alias("o"),
                        ),
                    )
                )
            ).alias("lost"),
        )
        write_parquet(processed_rows(ranked, self.contract), join(self.staging, "merged"), self.pnames)
        return json.loads(_observed(lost)["lost"])

    # -- 3. quarantine ----------------------------------------------------------------------------

    def quarantine(
        self, bad_lines: Collected, superseded_lines: Collected, lost: list[dict], read: list[RawObject]
    ) -> Optional[DataFrame]:
        """The rejected lines with their original text and line number, found again by locator (or,
        for rows that lost to stored data, by content); re-validated here to get the column and
        message. Only objects holding a located line are scanned again (all read objects when a
        row lost to stored data: that one is found by content). Column `_q` is the object's index."""
        if not bad_lines and not superseded_lines and not lost:
            return None
        catalog = self.spark.createDataFrame(
            [(o.file.uri, o.key, i) for i, o in enumerate(read)], "_source_file string, source_key string, _q int"
        )
        scan = read
        if not lost:
            located = bad_lines.frame().select("f").unionByName(superseded_lines.frame().select("f")).distinct()
            holding = {
                r["_source_file"]
                for r in catalog.join(F.broadcast(located), F.xxhash64("_source_file") == F.col("f")).collect()
            }
            scan = [o for o in read if o.file.uri in holding]
        raw = read_raw(self.spark, [o.file.path for o in scan]).select(
            "*", F.monotonically_increasing_id().alias("_mid")
        )
        # Line numbers: a file's rows arrive in file order, and its splits in increasing task order.
        lines = with_locator(
            raw.select(
                "_record",
                "_source_file",
                F.row_number().over(Window.partitionBy("_source_file").orderBy("_mid")).alias("_line"),
            )
        )
        frames = []
        if bad_lines or superseded_lines:
            # The observed locator lists, as DataFrames built in the JVM (no Python-side rows).
            bad = bad_lines.frame().select(
                F.col("f").alias("_fh"),
                F.col("l").alias("_lh"),
                F.lit("bad").alias("_kind"),
                F.lit(None).cast("string").alias("_winner"),
                F.lit(None).cast("int").alias("_winner_origin"),
            )
            superseded = superseded_lines.frame().select(
                F.col("f").alias("_fh"),
                F.col("l").alias("_lh"),
                F.lit("superseded").alias("_kind"),
                F.col("w").alias("_winner"),
                F.lit(0).alias("_winner_origin"),
            )
            key = ["_fh", "_lh", "_kind", "_winner", "_winner_origin"]
            locators = bad.unionByName(superseded).groupBy(*key).agg(F.count(F.lit(1)).cast("int").alias("_copies"))
            matched = lines.join(F.broadcast(locators), ["_fh", "_lh"])
            # Identical lines of one object share a locator: of n copies with k rejected, the last k
            # lines are recorded (a kept copy is the first).
            nth = F.row_number().over(Window.partitionBy("_fh", "_lh", "_kind").orderBy(F.col("_line").desc()))
            frames.append(
                matched.select("*", nth.alias("_k"))
                .where(F.col("_k") <= F.col("_copies"))
                .select("_record", "_source_file", "_line", "_kind", "_winner", "_winner_origin")
            )
        if lost:
            by_hash = self.spark.createDataFrame(
                [(x["h"], "superseded", x["w"], x["o"]) for x in lost],
                "_hash long, _kind string, _winner string, _winner_origin int",
            )
            candidates = (
                classify(lines, self.contract, self.options, keep=["_line", "_fh", "_lh"])
                .where(F.col("_reason").isNull())
                .withColumn("_hash", content_hash(self.contract))
            )
            # The row that was kept in pass 1 among same-content lines: rank's order (line hash, file hash), then the first line.
            first = F.row_number().over(Window.partitionBy("_hash").orderBy("_lh", "_fh", "_line"))
            frames.append(
                candidates.select("_record", "_source_file", "_line", "_hash", first.alias("_k"))
                .where(F.col("_k") == 1)
                .join(F.broadcast(by_hash), "_hash")
                .select("_record", "_source_file", "_line", "_kind", "_winner", "_winner_origin")
            )
        located = frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])
        described = classify(
            located, self.contract, self.options, messages=True, keep=["_line", "_kind", "_winner", "_winner_origin"]
        )
        version = self.contract.version_column
        key_text = F.concat_ws(
            ", ", *[F.concat(F.lit(f"{k}="), F.col(k).cast("string")) for k in self.contract.primary_key]
        )
        where = F.concat(*[F.concat(F.lit(f"{p}="), F.col(p), F.lit("/")) for p in self.pnames])
        superseded_message = F.concat(
            key_text,
            F.lit(" in "),
            where,
            F.lit(f": kept the version with {version} "),
            F.col("_winner"),
            F.when(F.col("_winner_origin") == 1, F.lit(" (already in processed)")).otherwise(F.lit("")),
            F.lit(f"; this row's {version} is "),
            F.date_format(version, _ISO),
        )
        is_superseded = F.col("_kind") == "superseded"
        return (
            described.join(F.broadcast(catalog), "_source_file")
            .select(
                F.lit(self.contract.name).alias("dataset"),
                F.lit(JOB).alias("job"),
                F.when(is_superseded, F.lit("duplicate_superseded")).otherwise(F.col("_reason")).alias("reason"),
                F.when(is_superseded, F.lit(None)).otherwise(F.col("_column")).cast("string").alias("column"),
                F.when(is_superseded, superseded_message).otherwise(F.col("_message")).alias("message"),
                F.col("_record").alias("record"),
                "source_key",
                F.col("_line").cast("long").alias("line"),
                F.lit(None).cast("long").alias("size"),
                "_q",
            )
            .repartition("_q")
            .sortWithinPartitions("_q", "line")
        )

    def unreadable_record(self, obj: RawObject, error: str) -> str:
        """The one quarantine record of an object that cannot be read (same fields as a line's)."""
        return json.dumps(
            {
                "dataset": self.contract.name,
                "job": JOB,
                "reason": "unreadable_object",
                "column": None,
                "message": error,
                "record": None,
                "source_key": obj.key,
                "line": None,
                "size": obj.file.size,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    def object_file(self, obj: RawObject) -> str:
        return join(self.quarantine_path, OBJECTS, obj.key + ".json")

    # -- the run ----------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        self.storage.delete(self.staging)
        objects = self.objects()
        present = [o for o in objects if o.file is not None]
        lines, unreadable = self.check([o for o in present if o.file.size > 0])
        read = [o for o in present if lines.get(o.key)]
        self.inputs = [o.file.path for o in read]
        status = {
            o.key: "missing"
            if o.file is None
            else "unreadable"
            if o.key in unreadable
            else "read"
            if lines.get(o.key)
            else "empty"
            for o in objects
        }

        if read:
            drift = unexpected_columns(read_raw(self.spark, self.inputs), self.contract, DRIFT_SAMPLE)
            seen, bad, kept, superseded = self.dedupe_input()
        else:
            drift, bad, kept = {}, Collected(self.spark, None, BAD_LOCATOR), 0
            seen, superseded = (
                {"records": 0, **{r: 0 for r in REASONS}},
                Collected(self.spark, None, SUPERSEDED_LOCATOR),
            )
        touched = sorted(
            {
                self._partition_of(rel)
                for rel in self.storage.list_files(join(self.staging, "input"))
                if rel.endswith(PARQUET)
            }
        )
        stored = [
            p
            for p in touched
            if not self.rebuild and any(f.endswith(PARQUET) for f in self.storage.list_dir_files(join(self.output, p)))
        ]
        lost = self.merge(stored) if stored else []
        for p in stored:
            self.storage.delete(join(self.staging, "input", p))

        by_reason = {r: int(seen[r]) for r in LINE_REASONS if seen[r]}
        if superseded or lost:
            by_reason["duplicate_superseded"] = len(superseded) + len(lost)
        input_records, processed_records = int(seen["records"]), kept - len(lost)
        rejected_lines = sum(by_reason.values())
        if unreadable:
            by_reason["unreadable_object"] = len(unreadable)
        expected_lines = sum(lines[o.key] for o in read)
        if (
            input_records != processed_records + rejected_lines
            or input_records != expected_lines
            or len(bad) != rejected_lines - by_reason.get("duplicate_superseded", 0)
        ):
            raise RuntimeError(
                f"{self.contract.name}: counts do not reconcile: input {input_records} (the check pass counted {expected_lines}) "
                f"!= processed {processed_records} + quarantined {rejected_lines} {by_reason} (located {len(bad)} rejected lines)"
            )

        per_object: dict[str, int] = {}
        rejected = self.quarantine(bad, superseded, lost, read)
        if rejected is not None:
            rejected.write.mode("overwrite").option("ignoreNullFields", "false").partitionBy("_q").json(
                join(self.staging, "quarantine")
            )
            written = (
                self.spark.read.text(join(self.staging, "quarantine"))
                .groupBy("_q")
                .agg(F.count(F.lit(1)).alias("n"))
                .collect()
            )
            per_object = {read[int(r["_q"])].key: int(r["n"]) for r in written}
            if sum(per_object.values()) != rejected_lines:
                raise RuntimeError(
                    f"{self.contract.name}: {rejected_lines} rows to quarantine but {sum(per_object.values())} were found again in the input"
                )

        committed = commit_partitions(self.storage, join(self.staging, "input"), self.output, PARQUET)
        committed += commit_partitions(self.storage, join(self.staging, "merged"), self.output, PARQUET)
        quarantine_files = self._commit_quarantine(objects, read, per_object, unreadable)
        self.storage.delete(self.staging)

        rows = self._rows([c.path for c in committed])
        partitions = sorted(committed, key=lambda c: c.path)
        set_aside = [
            {
                "key": o.key,
                "size": None if o.file is None else o.file.size,
                "status": status[o.key],
                **({"error": unreadable[o.key]} if o.key in unreadable else {}),
            }
            for o in objects
            if status[o.key] in ("unreadable", "missing")
        ]
        summary = {
            "job": JOB,
            "dataset": self.contract.name,
            "runId": self.run_id,
            "asOf": self.options.as_of.isoformat().replace("+00:00", "Z"),
            "input": {
                **(
                    {"manifest": self.manifest_path, "request": self._request_summary()}
                    if self.manifest_path
                    else {"paths": self.input_paths}
                ),
                "objects": len(objects),
                "bytes": sum(o.file.size for o in present),
                "records": input_records,
            },
            "objects": {
                "read": sum(1 for v in status.values() if v == "read"),
                "empty": sum(1 for v in status.values() if v == "empty"),
                "unreadable": len(unreadable),
                "missing": sum(1 for v in status.values() if v == "missing"),
                "byObject": [
                    {
                        "key": o.key,
                        "size": None if o.file is None else o.file.size,
                        "status": status[o.key],
                        "records": lines.get(o.key, 0),
                        "quarantined": per_object.get(o.key, 0) + (1 if o.key in unreadable else 0),
                    }
                    for o in objects
                ],
            },
            "setAside": set_aside,
            "processed": {
                "path": self.output,
                "records": processed_records,
                "partitions": [{"path": c.path, "rows": rows[c.path], "files": list(c.files)} for c in partitions],
            },
            "touched": [self.contract.partition_values(c.path) for c in partitions],
            "quarantined": {
                "path": self.quarantine_path,
                "records": rejected_lines + len(unreadable),
                "byReason": {r: by_reason[r] for r in REASONS if r in by_reason},
                "files": quarantine_files,
            },
            "unexpectedColumns": {"sampledRecords": DRIFT_SAMPLE, "columns": dict(sorted(drift.items()))},
            "reconciled": True,
        }
        self.storage.write_text(self.summary_path, json.dumps(summary, indent=2) + "\n")
        return summary

    def _request_summary(self) -> dict[str, Any]:
        r = self.request
        if r.kind == "reprocess":
            return (
                {"kind": "reprocess", "all": True}
                if r.all
                else {"kind": "reprocess", "from": r.days[0], "to": r.days[1]}
            )
        return {"kind": r.kind, "keys": len(r.keys)}

    def _commit_quarantine(
        self, objects: list[RawObject], read: list[RawObject], per_object: dict[str, int], unreadable: dict[str, str]
    ) -> list[str]:
        """Each object of this run gets its quarantine file replaced: this run's rows, or none (a
        clean rerun of an object clears its earlier rejects). Other objects' files are not touched."""
        staged = join(self.staging, "quarantine")
        files = []
        for i, obj in enumerate(read):
            if obj.key in per_object:
                [part] = [f for f in self.storage.list_dir_files(join(staged, f"_q={i}")) if f.startswith("part-")]
                self.storage.move(join(staged, f"_q={i}", part), self.object_file(obj))
                files.append(obj.key + ".json")
        for obj in objects:
            if obj.key in unreadable:
                self.storage.write_text(self.object_file(obj), self.unreadable_record(obj, unreadable[obj.key]) + "\n")
                files.append(obj.key + ".json")
            elif obj.file is not None and obj.key not in per_object:
                self.storage.delete(self.object_file(obj), recursive=False)
        return sorted(files)

    def _partition_of(self, rel: str) -> str:
        return "".join(f"{seg}/" for seg in rel.split("/")[: len(self.pnames)])

    def _rows(self, partitions: list[str]) -> dict[str, int]:
        if not partitions:
            return {}
        written = (
            self.spark.read.schema(struct_of(self.contract.data_columns, self.pnames))
            .option("basePath", self.output)
            .parquet(*[join(self.output, p) for p in partitions])
        )
        return {
            self.contract.partition_path(r.asDict()): r["n"]
            for r in written.groupBy(*self.pnames).agg(F.count(F.lit(1)).alias("n")).collect()
        }


def run(spark: SparkSession, args: JobArgs, glue_context: Any = None) -> dict[str, Any]:
    configure(spark)
    return _Run(spark, args).run()


def main(argv: Optional[Sequence[str]] = None, spark: Optional[SparkSession] = None) -> dict[str, Any]:
    return runtime.main(run, ARGS, DESCRIPTION, argv, spark)
