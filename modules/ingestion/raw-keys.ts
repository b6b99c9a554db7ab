/**
 * The longest raw-zone key a dataset's writer can produce: its folder, the environment's
 * partition segments and the writer's file name. Orchestration bounds a batched pipeline's
 * execution input with it (a batch carries one key per landed object).
 *
 * File names, per writer (keep in step with the writers):
 *  - api-ingest (functions/api-ingest/ingest.ts): `api-<40 hex>.json.gz`; enum values are checked
 *    against the contract's list before a key is made (others are quarantined).
 *  - Glue extracts (glue-jobs/dataplat_glue/extract.py `write_raw`): `part-<run id>-<5 digits>.json.gz`;
 *    a value that cannot form its segment becomes `__HIVE_DEFAULT_PARTITION__`, an enum value is a
 *    slug of at most 31 characters.
 *  - Firehose (streaming.ts): `<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><ext>`, segments
 *    from `PartitionLayout.firehoseQuery` (date and hour are substrings of the event time; an enum
 *    value is copied from the record, counted here as the contract allows it).
 */
import type { PartitionedDataset } from "../../datasets";
import type { PartitionKey } from "../../environments";
import type { Naming } from "../shared/naming";

/** What the extracts write for a value that cannot form its partition segment (extract.py). */
const HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__";
/** Longest enum slug the extracts keep (extract.py, the schema's enum value rule). */
const EXTRACT_ENUM_MAX = 31;
/** A Glue run id ("jr_" + 64 hex) or a Step Functions execution name (≤ 80), whichever names the run. */
const RUN_ID_MAX = 80;
/** Firehose's delivery stream version is a counter; ten digits is far more updates than a stream sees. */
const FIREHOSE_VERSION_DIGITS = 10;

export interface LongestRawKey {
  /** Bytes the key can take in an execution input (URL-encoding counted, see `eventBytes`). */
  readonly bytes: number;
  /** Who writes the dataset's raw objects. */
  readonly writer: "api-ingest" | "glue-extract" | "firehose";
  /** A key of that length, built the way the writer builds it. */
  readonly example: string;
}

/**
 * Bytes a key takes inside an event: S3's other event notifications URL-encode the key, so every
 * character other than `A-Z a-z 0-9 . _ ~ -` counts as three (`=` and `/` in Hive paths), in case an
 * event carries it so. Non-ASCII characters count their UTF-8 bytes, encoded.
 */
export function eventBytes(key: string): number {
  let bytes = 0;
  for (const char of key) bytes += /[A-Za-z0-9._~-]/.test(char) ? 1 : 3 * Buffer.byteLength(char, "utf8");
  return bytes;
}

export function longestRawKey(dataset: PartitionedDataset, naming: Naming): LongestRawKey {
  const source = dataset.contract.source;
  const longest = (values: readonly string[]) => values.reduce((a, b) => (b.length > a.length ? b : a), "");
  const segments = (value: (key: PartitionKey) => string) =>
    dataset.layout.keys.map((k) => `${k.name}=${value(k)}/`).join("");
  const date = "2024-05-01";
  const hour = "13";
  const contractValue = (k: PartitionKey) => (k.type === "date" ? date : k.type === "hour" ? hour : longest(k.values));
  let writer: LongestRawKey["writer"];
  let example: string;
  // Each source kind has one writer: the engine rules give api sources to Lambda only (datasets/ingestion.ts).
  switch (source.kind) {
    case "api":
      writer = "api-ingest";
      example = `${dataset.prefix}${segments(contractValue)}api-${"f".repeat(40)}.json.gz`;
      break;
    case "rds":
    case "dynamodb": {
      writer = "glue-extract";
      const value = (k: PartitionKey) =>
        longest([HIVE_DEFAULT_PARTITION, k.type === "enum" ? "x".repeat(EXTRACT_ENUM_MAX) : contractValue(k)]);
      example = `${dataset.prefix}${segments(value)}part-${"r".repeat(RUN_ID_MAX)}-00000.json.gz`;
      break;
    }
    case "kinesis": {
      writer = "firehose";
      const uuid = `${"0".repeat(8)}-0000-0000-0000-${"0".repeat(12)}`;
      example = `${dataset.prefix}${segments(contractValue)}${naming.name(dataset.name)}-${"9".repeat(FIREHOSE_VERSION_DIGITS)}-2024-05-01-13-45-00-${uuid}.json.gz`;
      break;
    }
  }
  return { bytes: eventBytes(example), writer, example };
}
