/**
 * Flink SQL generated from a dataset's stream-query declarations (datasets/stream-queries.ts).
 * Deterministic: the same contract and partition spec give the same statements byte for byte, so
 * the application's code package (and its content hash) changes only when a declaration does.
 *
 * One job per dataset:
 *  1. the source table over the dataset's stream (JSON records, the event time as TIMESTAMP_LTZ(3)
 *     with a watermark `allowedLatenessSeconds` behind the largest event time seen);
 *  2. a view of the events the batch pipeline would accept: event time parsed and not before the
 *     partition range, required columns present, enum partition values allowed. Anything else is
 *     left to the batch path, which quarantines it with a reason (Firehose lands every record);
 *  3. per query, a window TVF aggregate (TUMBLE or HOP) and a partitioned result table.
 * The connector options (Kinesis and S3 in AWS, files in the tests) are inputs: the SQL is the same.
 */
import type { PartitionedDataset } from "../../datasets";
import {
  resolveStreamQueries,
  type ResolvedStreamQueries,
  type StreamMeasure,
  type StreamQuery,
  type StreamWindow,
} from "../../datasets/stream-queries";
import type { PartitionKey } from "../../environments";
import { defined } from "../shared/defined";

/** Name of the source table and of the accepted-events view in every job. */
export const SOURCE_TABLE = "stream_events";
export const ACCEPTED_VIEW = "accepted_events";
/**
 * The time attribute windows run on: the event time, or the epoch where it did not parse. Flink
 * stops the job on a NULL time attribute, and one producer sending a bad timestamp must not stop
 * every query; the epoch never moves the watermark and the view leaves such records to the batch
 * path. A leading underscore cannot clash with a contract column (those start with a letter).
 */
export const ROWTIME = "_rowtime";

/** Options of a Flink table's WITH clause, rendered in key order. */
export type TableOptions = Readonly<Record<string, string>>;

/**
 * Stands for the connector options a DDL gets where it runs (the stream's ARN and region in AWS, a
 * folder in the tests): the application replaces it with the options it is given, each
 * `'key' = 'value',` on a line. A DDL is rendered with it when `options` is `RUNTIME_OPTIONS`.
 */
export const CONNECTOR_OPTIONS_MARKER = "{{connector_options}}";
export const RUNTIME_OPTIONS: TableOptions = Object.freeze({});

export interface ResultColumn {
  readonly name: string;
  /** Flink SQL type of the column in the result table. */
  readonly flinkType: string;
  /** Glue/Hive type of the same column (what the Glue table declares and Athena reads). */
  readonly glueType: string;
}

export interface StreamQuerySql {
  readonly query: StreamQuery;
  /** Result table name: "<dataset>_<query>" (also its folder under the results prefix). */
  readonly table: string;
  /** The aggregate over the accepted events: window_start, window_end, group-by columns, measures. */
  readonly select: string;
  /** Data columns of the result (partition columns excluded). */
  readonly columns: readonly ResultColumn[];
  /** Partition keys of the result: the dataset's date/hour keys from window_start, its enum keys the query groups by. */
  readonly partitionKeys: readonly PartitionKey[];
  /** CREATE TABLE of the result table, given its connector options. */
  sinkDdl(options: TableOptions): string;
  /** INSERT of the aggregate, with partition values, into the result table. */
  readonly insert: string;
}

export interface StreamSqlJob {
  readonly dataset: string;
  readonly lateness: ResolvedStreamQueries;
  /** CREATE TABLE of the source, given its connector options. */
  sourceDdl(options: TableOptions): string;
  /** CREATE TEMPORARY VIEW of the accepted events. */
  readonly acceptedView: string;
  readonly queries: readonly StreamQuerySql[];
}

/** Options every source carries whatever its connector: how a JSON event is read. */
export const JSON_SOURCE_FORMAT: TableOptions = {
  format: "json",
  // A field that does not parse becomes NULL (the view then leaves the record to the batch path) instead of failing the job.
  "json.ignore-parse-errors": "true",
  // "2024-05-01T13:45:00Z", what producers and the raw zone carry.
  "json.timestamp-format.standard": "ISO-8601",
};

/** Options every result table carries: JSON lines in Hive partitions, committed with a _SUCCESS file. */
export const JSON_SINK_FORMAT: TableOptions = {
  format: "json",
  // "2024-05-01 13:45:00": what the Glue table's openx JSON SerDe reads as a timestamp.
  "json.timestamp-format.standard": "SQL",
  "sink.partition-commit.policy.kind": "success-file",
  // A window's partition is committed when the watermark passes its end.
  "sink.partition-commit.trigger": "partition-time",
  "sink.partition-commit.watermark-time-zone": "UTC",
  // Row-format files are readable once rolled and checkpointed: roll every minute (the default is 30), so a
  // result is in Athena about a checkpoint interval after its window closes.
  "sink.rolling-policy.rollover-interval": "1 min",
  "sink.rolling-policy.check-interval": "10 s",
};

/** The job of one dataset, or undefined when its contract declares no stream queries. */
export function streamSqlJob(dataset: PartitionedDataset): StreamSqlJob | undefined {
  const resolved = resolveStreamQueries(dataset.contract);
  if (!resolved) return undefined;
  const contract = dataset.contract;
  const eventTime = contract.eventTimeColumn;
  const columns = contract.columns;
  const typeOf = (name: string) =>
    defined(
      columns.find((c) => c.name === name),
      `column ${name} of dataset ${dataset.name}`,
    ).type;
  const layout = dataset.layout;

  const sourceColumns = columns.map((c) => `  ${quote(c.name)} ${flinkType(c.type)}`);
  const sourceDdl = (options: TableOptions) =>
    [
      `CREATE TABLE ${quote(SOURCE_TABLE)} (`,
      [
        ...sourceColumns,
        `  ${quote(ROWTIME)} AS COALESCE(${quote(eventTime)}, TO_TIMESTAMP_LTZ(0, 3))`,
        `  WATERMARK FOR ${quote(ROWTIME)} AS ${quote(ROWTIME)} - ${interval(resolved.allowedLatenessSeconds)}`,
      ].join(",\n"),
      `) WITH (`,
      renderOptions(options, JSON_SOURCE_FORMAT),
      `)`,
    ].join("\n");

  const conditions = [`${quote(eventTime)} IS NOT NULL`];
  const dateKey = layout.dateKey;
  conditions.push(`${quote(eventTime)} >= TO_TIMESTAMP_LTZ(${Date.parse(`${dateKey.rangeStart}T00:00:00Z`)}, 3)`);
  for (const c of columns) if (c.required && c.name !== eventTime) conditions.push(`${quote(c.name)} IS NOT NULL`);
  for (const key of layout.enumKeys) {
    if (columns.some((c) => c.name === key.name))
      conditions.push(`${quote(key.name)} IN (${key.values.map(literal).join(", ")})`);
  }
  const acceptedView = [
    `CREATE TEMPORARY VIEW ${quote(ACCEPTED_VIEW)} AS`,
    `SELECT * FROM ${quote(SOURCE_TABLE)}`,
    `WHERE ${conditions.join("\n  AND ")}`,
  ].join("\n");

  const queries = resolved.queries.map((query): StreamQuerySql => {
    const table = `${dataset.name}_${query.name}`;
    const measureColumns = query.measures.map((m) => ({
      name: m.name,
      ...measureType(m, m.column ? typeOf(m.column) : undefined),
    }));
    const resultColumns: ResultColumn[] = [
      { name: "window_start", flinkType: "TIMESTAMP(3)", glueType: "timestamp" },
      { name: "window_end", flinkType: "TIMESTAMP(3)", glueType: "timestamp" },
      ...query.groupBy.map((g) => ({ name: g, flinkType: flinkType(typeOf(g)), glueType: typeOf(g) })),
      ...measureColumns.map((m) => ({ name: m.name, flinkType: m.flinkType, glueType: m.glueType })),
    ];
    const partitionKeys = layout.keys.filter((k) => k.type !== "enum" || query.groupBy.includes(k.name));
    const partitionNames = new Set(partitionKeys.map((k) => k.name));
    const dataColumns = resultColumns.filter((c) => !partitionNames.has(c.name));
    const groups = ["window_start", "window_end", ...query.groupBy.map(quote)];
    const select = [
      `SELECT`,
      [...groups, ...query.measures.map((m) => `${aggregate(m, contract.primaryKey)} AS ${quote(m.name)}`)]
        .map((s) => `  ${s}`)
        .join(",\n"),
      `FROM TABLE(${windowCall(query.window)})`,
      `GROUP BY ${groups.join(", ")}`,
    ].join("\n");
    const partitionValues = partitionKeys.map((k) =>
      k.type === "date"
        ? `DATE_FORMAT(window_start, 'yyyy-MM-dd') AS ${quote(k.name)}`
        : k.type === "hour"
          ? `DATE_FORMAT(window_start, 'HH') AS ${quote(k.name)}`
          : quote(k.name),
    );
    const insert = [
      `INSERT INTO ${quote(table)}`,
      `SELECT ${[...dataColumns.map((c) => quote(c.name)), ...partitionValues].join(", ")}`,
      `FROM (`,
      indent(select),
      `)`,
    ].join("\n");
    const sinkDdl = (options: TableOptions) =>
      [
        `CREATE TABLE ${quote(table)} (`,
        [
          ...dataColumns.map((c) => `  ${quote(c.name)} ${c.flinkType}`),
          ...partitionKeys.map((k) => `  ${quote(k.name)} STRING`),
        ].join(",\n"),
        `) PARTITIONED BY (${partitionKeys.map((k) => quote(k.name)).join(", ")}) WITH (`,
        renderOptions(options, {
          ...JSON_SINK_FORMAT,
          "partition.time-extractor.timestamp-pattern": timestampPattern(partitionKeys),
        }),
        `)`,
      ].join("\n");
    return { query, table, select, columns: dataColumns, partitionKeys, sinkDdl, insert };
  });

  return { dataset: dataset.name, lateness: resolved, sourceDdl, acceptedView, queries };
}

/** The partition-time pattern the commit trigger reads: the window's day (and hour). */
function timestampPattern(keys: readonly PartitionKey[]): string {
  const date = defined(
    keys.find((k) => k.type === "date"),
    "the date partition key",
  );
  const hour = keys.find((k) => k.type === "hour");
  return hour ? `$${date.name} $${hour.name}:00:00` : `$${date.name} 00:00:00`;
}

function windowCall(window: StreamWindow): string {
  const table = `TABLE ${quote(ACCEPTED_VIEW)}, DESCRIPTOR(${quote(ROWTIME)})`;
  return window.kind === "tumbling"
    ? `TUMBLE(${table}, ${interval(window.sizeSeconds)})`
    : `HOP(${table}, ${interval(window.slideSeconds)}, ${interval(window.sizeSeconds)})`;
}

/** Separates the parts of a composite key counted as one value (a control character no key holds). */
const KEY_SEPARATOR = "\u001f";

function aggregate(m: StreamMeasure, primaryKey: readonly string[]): string {
  // Kinesis delivers at least once: an event counts once however often it arrives (same key, same window).
  if (m.fn === "count") {
    const key =
      primaryKey.length === 1
        ? quote(primaryKey[0])
        : `CONCAT_WS(${literal(KEY_SEPARATOR)}, ${primaryKey.map((k) => `CAST(${quote(k)} AS STRING)`).join(", ")})`;
    return `COUNT(DISTINCT ${key})`;
  }
  const column = quote(defined(m.column, `the column of measure ${m.name}`));
  if (m.fn === "count_distinct") return `COUNT(DISTINCT ${column})`;
  return `${m.fn.toUpperCase()}(${column})`;
}

function measureType(m: StreamMeasure, columnType: string | undefined): { flinkType: string; glueType: string } {
  if (m.fn === "count" || m.fn === "count_distinct") return { flinkType: "BIGINT", glueType: "bigint" };
  const type = defined(columnType, `the column type of measure ${m.name}`);
  return { flinkType: flinkType(type), glueType: type };
}

/** Flink SQL type of a contract column type. Timestamps carry a zone (the events' are UTC instants). */
export function flinkType(type: string): string {
  const decimal = /^decimal\((\d+),(\d+)\)$/.exec(type);
  if (decimal) return `DECIMAL(${decimal[1]}, ${decimal[2]})`;
  const types: Record<string, string> = {
    string: "STRING",
    int: "INT",
    bigint: "BIGINT",
    double: "DOUBLE",
    boolean: "BOOLEAN",
    date: "DATE",
    timestamp: "TIMESTAMP_LTZ(3)",
  };
  const flink = types[type];
  if (!flink) throw new Error(`no Flink SQL type for column type "${type}"`);
  return flink;
}

/**
 * An interval literal Flink accepts: a single unit's leading field holds at most two digits
 * (Calcite's default precision), so larger values are written as HOUR TO SECOND.
 */
export function interval(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0)
    throw new Error(`interval must be a whole number of seconds (got ${seconds})`);
  if (seconds % 3600 === 0 && seconds / 3600 <= 99) return `INTERVAL '${seconds / 3600}' HOUR`;
  if (seconds % 60 === 0 && seconds / 60 <= 99) return `INTERVAL '${seconds / 60}' MINUTE`;
  if (seconds <= 99) return `INTERVAL '${seconds}' SECOND`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `INTERVAL '${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}' HOUR TO SECOND`;
}

export function quote(identifier: string): string {
  return `\`${identifier.replace(/`/g, "``")}\``;
}

export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function renderOptions(options: TableOptions, fixed: TableOptions): string {
  const merged: Record<string, string> = { ...options, ...fixed };
  const lines = Object.keys(merged)
    .sort()
    .map((k) => `  ${literal(k)} = ${literal(merged[k])}`);
  // The marker line carries its own trailing comma once replaced.
  return (options === RUNTIME_OPTIONS ? `  ${CONNECTOR_OPTIONS_MARKER}\n` : "") + lines.join(",\n");
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}
