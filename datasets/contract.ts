/**
 * Dataset contracts: one typed definition per dataset. Tables, crawler targets, named queries,
 * job arguments and stream routing are generated from these, so a dataset is added in one place.
 */
import type { PartitionSpec } from "../environments";
import type { Zone } from "../modules/lake";
import { PartitionLayout, type PartitionSource } from "../modules/shared/partitioning";
import { decideEngine, ingestionProblems, type Engine, type IngestionProfile } from "./ingestion";
import { streamQueryProblems, type StreamQueriesDeclaration } from "./stream-queries";

/**
 * A contract that breaks a rule. Synth prints its message (naming the dataset, the field and the
 * rule) without a stack trace, like a configuration error.
 */
export class ContractError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ContractError";
  }
}

/** Glue/Hive column types the platform supports (what Spark writes and Athena reads). */
export type ColumnType =
  | "string" | "int" | "bigint" | "double" | "boolean" | "date" | "timestamp"
  | `decimal(${number},${number})`;

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  /** Rows without a value are quarantined. @default false */
  readonly required?: boolean;
  readonly description: string;
}

export type DatasetSource =
  /** A table in the operational database, read over a Glue JDBC connection. */
  | { readonly kind: "rds"; readonly table: string }
  /** A DynamoDB table, read through its point-in-time export (no read capacity used). */
  | { readonly kind: "dynamodb"; readonly table: string }
  /** Events on the platform's Kinesis stream, delivered by Firehose. */
  | { readonly kind: "kinesis" }
  /** An external HTTP API, paged by the api-ingest Lambda. */
  | { readonly kind: "api"; readonly path: string; readonly incremental: ApiIncremental };

/**
 * How an API source is read, declared because it depends on what the API offers.
 * - `since`: the API filters on the dataset's version column through the query parameter
 *   `parameter` (records whose version is at or after the value, an ISO-8601 UTC timestamp) and
 *   keeps the filter in its next links. Each run asks for records from the function's high-water
 *   mark (the highest version it has written) minus `overlapSeconds`; the first run reads in full.
 * - `full`: the API has no such filter, so every run reads every record, by design; `reason` says
 *   why. Each run then re-writes what the API returns.
 */
export type ApiIncremental =
  | {
      readonly kind: "since";
      readonly parameter: string;
      /** Re-read this far behind the mark, for clock skew and late commits. @default DEFAULT_API_OVERLAP_SECONDS */
      readonly overlapSeconds?: number;
    }
  | { readonly kind: "full"; readonly reason: string };

/**
 * Default overlap of an incremental API read: 5 minutes. A record can carry a version earlier than
 * one already read when the API's hosts' clocks differ or a transaction commits after it was
 * stamped; both are seconds in practice. The cost is re-reading five minutes of records per run,
 * which the function recognises and does not write again.
 */
export const DEFAULT_API_OVERLAP_SECONDS = 300;
/** Largest overlap accepted: a day (more would re-read a day of records on every run). */
export const MAX_API_OVERLAP_SECONDS = 86_400;
/** A query parameter name the function can append to the API's URL unescaped. */
const QUERY_PARAMETER = /^[A-Za-z_][A-Za-z0-9_.\-\[\]]{0,63}$/;

/** An aggregate measure of a consumer table. */
export interface Measure {
  readonly name: string;
  /** `count` counts rows; `sum` adds a numeric column; `count_distinct` counts distinct values of a column. */
  readonly fn: "count" | "sum" | "count_distinct";
  /** Source column (not for `count`). */
  readonly column?: string;
  readonly description: string;
}

/**
 * What the consumer zone holds for a dataset.
 * - `curated`: the deduplicated, contract-checked records, same columns as processed.
 * - `aggregate`: one row per partition and `groupBy` values, with `measures`.
 */
export type ConsumerView =
  | { readonly kind: "curated" }
  | {
      readonly kind: "aggregate";
      /** Consumer table name suffix, e.g. "daily" → table "<dataset>_daily". */
      readonly name: string;
      /** Grouping columns in addition to the partition keys (partition keys are always grouped by). */
      readonly groupBy: readonly string[];
      readonly measures: readonly Measure[];
    };

export interface DatasetContract {
  /** Lowercase identifier; the dataset's folder in every zone and the base of its table names. */
  readonly name: string;
  readonly description: string;
  readonly columns: readonly Column[];
  /** Columns that identify a record; duplicates keep the latest version. */
  readonly primaryKey: readonly string[];
  /** ISO-8601 timestamp column the date (and hour) partition keys derive from. */
  readonly eventTimeColumn: string;
  /** Column ordering versions of one record; the highest wins deduplication. @default eventTimeColumn */
  readonly versionColumn?: string;
  readonly source: DatasetSource;
  /**
   * Expected volume, duration and latency of one ingestion run; the engine follows from the
   * platform's rules (datasets/ingestion.ts). An explicit `engine` must agree with them.
   */
  readonly ingestion: IngestionProfile;
  /** Zones the dataset lives in. @default raw, processed, consumer */
  readonly zones?: readonly Zone[];
  /** What the processed → consumer job produces. @default { kind: "curated" } */
  readonly consumer?: ConsumerView;
  /**
   * What the processed zone holds for a primary key.
   * - `current-state`: the latest version (by `versionColumn`). A late version replaces the stored
   *   one because it lands in the same partition: the partition time (`eventTimeColumn`) and any
   *   enum partition column must not change between versions of a record, so `eventTimeColumn`
   *   must differ from `versionColumn` (partition by creation or placement time, not last change).
   * - `event-log`: every version, deduplicated by key and version (immutable events, audit trails).
   * @default "current-state" when `versionColumn` names a column other than `eventTimeColumn` (the
   *   record has versions, and one row per record is what entity tables and their aggregates
   *   need), else "event-log" (without a separate version, each event time is its own event)
   */
  readonly processed?: ProcessedMode;
  /** Windowed aggregates computed on the stream as events arrive (datasets/stream-queries.ts). @default none */
  readonly streamQueries?: StreamQueriesDeclaration;
}

/** What processed holds for a primary key; see `DatasetContract.processed`. */
export type ProcessedMode = "current-state" | "event-log";

/** `DatasetContract.processed` when a contract does not say (see its `@default`). */
export function defaultProcessed(contract: Pick<DatasetContract, "eventTimeColumn" | "versionColumn">): ProcessedMode {
  return contract.versionColumn !== undefined && contract.versionColumn !== contract.eventTimeColumn ? "current-state" : "event-log";
}

const NUMERIC = /^(int|bigint|double|decimal\(\d+,\d+\))$/;

const IDENTIFIER = /^[a-z][a-z0-9_]{0,62}$/;

/** Checks a contract for internal consistency and returns it frozen. Throws naming the dataset and rule. */
export function defineDataset(contract: DatasetContract): DatasetContract {
  const problems: string[] = [];
  const names = contract.columns.map((c) => c.name);
  if (!IDENTIFIER.test(contract.name)) problems.push(`name must be a lowercase identifier (got "${contract.name}")`);
  for (const name of names) if (!IDENTIFIER.test(name)) problems.push(`column "${name}" must be a lowercase identifier`);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) problems.push(`column "${dup}" is defined twice`);
  if (contract.primaryKey.length === 0) problems.push("primaryKey must name at least one column");
  for (const key of contract.primaryKey) {
    const column = contract.columns.find((c) => c.name === key);
    if (!column) problems.push(`primaryKey column "${key}" is not a column`);
    else if (!column.required) problems.push(`primaryKey column "${key}" must be required`);
  }
  for (const [field, name] of [["eventTimeColumn", contract.eventTimeColumn], ["versionColumn", contract.versionColumn]] as const) {
    if (name === undefined) continue;
    const column = contract.columns.find((c) => c.name === name);
    if (!column) problems.push(`${field} "${name}" is not a column`);
    else if (column.type !== "timestamp") problems.push(`${field} "${name}" must be a timestamp (got ${column.type})`);
    else if (!column.required) problems.push(`${field} "${name}" must be required`);
  }
  const processed = contract.processed ?? defaultProcessed(contract);
  if (processed !== "current-state" && processed !== "event-log") {
    problems.push(`processed must be "current-state" or "event-log" (got "${String(processed)}")`);
  } else if (processed === "current-state" && (contract.versionColumn ?? contract.eventTimeColumn) === contract.eventTimeColumn) {
    problems.push(
      `processed "current-state" needs a partition time that versions do not change, but eventTimeColumn and versionColumn are both ` +
        `"${contract.eventTimeColumn}" (a new version would land in another partition and both would survive): partition by an ` +
        `immutable time (e.g. creation) and set versionColumn, or declare processed: "event-log"`,
    );
  }
  const consumer = contract.consumer ?? { kind: "curated" };
  if (consumer.kind === "aggregate") {
    if (!IDENTIFIER.test(consumer.name)) problems.push(`consumer.name must be a lowercase identifier (got "${consumer.name}")`);
    for (const g of consumer.groupBy) if (!names.includes(g)) problems.push(`consumer.groupBy column "${g}" is not a column`);
    if (consumer.measures.length === 0) problems.push("consumer.measures must list at least one measure");
    for (const m of consumer.measures) {
      if (!IDENTIFIER.test(m.name)) problems.push(`measure "${m.name}" must be a lowercase identifier`);
      if (m.fn === "count") continue;
      const column = contract.columns.find((c) => c.name === m.column);
      if (!column) problems.push(`measure "${m.name}" reads "${m.column}", which is not a column`);
      else if (m.fn === "sum" && !NUMERIC.test(column.type)) problems.push(`measure "${m.name}" sums "${m.column}", which is not numeric (${column.type})`);
    }
  }
  problems.push(...ingestionProblems(contract.source?.kind, contract.ingestion));
  if (contract.source?.kind === "api") problems.push(...apiIncrementalProblems(contract.source));
  problems.push(...streamQueryProblems(contract));
  if (problems.length) throw new ContractError(`dataset ${contract.name}: ${problems.join("; ")}`);
  return Object.freeze({ ...contract, zones: contract.zones ?? (["raw", "processed", "consumer"] as const), consumer, processed });
}

function apiIncrementalProblems(source: Extract<DatasetSource, { kind: "api" }>): string[] {
  const incremental = source.incremental as ApiIncremental | undefined;
  const declare = 'declare { kind: "since", parameter: "<query parameter>" } when the API filters by version, or { kind: "full", reason: "…" } when it cannot';
  if (incremental === undefined) return [`source.incremental is required: ${declare}`];
  if (incremental.kind === "full") {
    return typeof incremental.reason === "string" && incremental.reason.trim() ? [] : ["source.incremental.reason must say why the API is read in full"];
  }
  if (incremental.kind !== "since") return [`source.incremental.kind must be "since" or "full" (got ${JSON.stringify((incremental as { kind?: unknown }).kind)}): ${declare}`];
  const problems: string[] = [];
  if (typeof incremental.parameter !== "string" || !QUERY_PARAMETER.test(incremental.parameter)) {
    problems.push(`source.incremental.parameter must be a query parameter name (letters, digits, _ . - [ ]; got ${JSON.stringify(incremental.parameter)})`);
  } else if (new URL(source.path, "https://api.invalid").searchParams.has(incremental.parameter)) {
    problems.push(`source.incremental.parameter "${incremental.parameter}" is already in source.path; the function sets it`);
  }
  const overlap = incremental.overlapSeconds;
  if (overlap !== undefined && (!Number.isInteger(overlap) || overlap < 0 || overlap > MAX_API_OVERLAP_SECONDS)) {
    problems.push(`source.incremental.overlapSeconds must be a whole number of seconds from 0 to ${MAX_API_OVERLAP_SECONDS} (got ${overlap})`);
  }
  return problems;
}

/** The API source's read mode with its defaults applied: what the api-ingest function is configured with. */
export function resolvedApiIncremental(incremental: ApiIncremental): Required<Extract<ApiIncremental, { kind: "since" }>> | Extract<ApiIncremental, { kind: "full" }> {
  return incremental.kind === "since" ? { kind: "since", parameter: incremental.parameter, overlapSeconds: incremental.overlapSeconds ?? DEFAULT_API_OVERLAP_SECONDS } : incremental;
}

/** A contract with an environment's partition spec applied: what tables and jobs are built from. */
export class PartitionedDataset {
  readonly layout: PartitionLayout;
  /** Columns stored in the data files (partition columns live in the path, not in the file). */
  readonly dataColumns: readonly Column[];

  constructor(readonly contract: DatasetContract, spec: PartitionSpec, environment: string) {
    this.layout = new PartitionLayout(spec);
    const problems: string[] = [];
    for (const key of spec.keys) {
      const column = contract.columns.find((c) => c.name === key.name);
      if (key.type === "enum") {
        if (!column) problems.push(`has no column "${key.name}", which ${environment}'s partition key "${key.name}" reads`);
        else if (!column.required) problems.push(`column "${key.name}" feeds a partition key and must be required`);
      } else if (column) {
        problems.push(`column "${key.name}" clashes with ${environment}'s derived partition key "${key.name}"`);
      }
    }
    if (problems.length) throw new ContractError(`dataset ${contract.name}: ${problems.join("; ")}`);
    const partitionNames = new Set(this.layout.names);
    this.dataColumns = contract.columns.filter((c) => !partitionNames.has(c.name));
  }

  get name(): string {
    return this.contract.name;
  }

  /** The ingestion engine the platform's rules pick for this dataset. */
  get engine(): Engine {
    return decideEngine(this.contract.ingestion).engine;
  }

  get versionColumn(): string {
    return this.contract.versionColumn ?? this.contract.eventTimeColumn;
  }

  /** The dataset's folder in a zone: "<name>/". */
  get prefix(): string {
    return `${this.contract.name}/`;
  }

  /** The `--partition_spec` argument of this dataset's Spark jobs. */
  sparkSpec(): string {
    return this.layout.sparkSpec(this.contract.eventTimeColumn);
  }

  /** The consumer view (curated unless the contract declares an aggregate). */
  get consumer(): ConsumerView {
    return this.contract.consumer ?? { kind: "curated" };
  }

  /** Name of the dataset's consumer table (without database): "<name>" or "<name>_<aggregate>". */
  get consumerTableName(): string {
    const view = this.consumer;
    return view.kind === "curated" ? this.name : `${this.name}_${view.name}`;
  }

  /** Data columns of the consumer table (partition columns excluded, as in processed). */
  consumerColumns(): Column[] {
    const view = this.consumer;
    if (view.kind === "curated") return [...this.dataColumns];
    const partitionNames = new Set(this.layout.names);
    const group = view.groupBy
      .filter((g) => !partitionNames.has(g))
      .map((g) => this.contract.columns.find((c) => c.name === g)!);
    const measures = view.measures.map((m): Column => {
      const source = this.contract.columns.find((c) => c.name === m.column);
      const type: ColumnType = m.fn === "sum" ? (source!.type.startsWith("decimal") ? "decimal(38,2)" : source!.type === "double" ? "double" : "bigint") : "bigint";
      return { name: m.name, type, required: true, description: m.description };
    });
    return [...group, ...measures];
  }

  /**
   * Everything a Glue job needs to know about this dataset in this environment, as passed in its
   * `--dataset_contract` argument (JSON). The PySpark jobs read only this; tests export the same.
   */
  jobContract(): JobContract {
    return {
      name: this.name,
      columns: this.contract.columns.map((c) => ({ name: c.name, type: c.type, required: c.required ?? false })),
      primaryKey: [...this.contract.primaryKey],
      eventTimeColumn: this.contract.eventTimeColumn,
      versionColumn: this.versionColumn,
      partitioning: { keys: this.layout.sources(this.contract.eventTimeColumn) },
      consumer: this.consumer,
      consumerTable: this.consumerTableName,
      consumerColumns: this.consumerColumns().map((c) => ({ name: c.name, type: c.type })),
      processed: this.contract.processed ?? defaultProcessed(this.contract),
    };
  }
}

/** The JSON shape of a Glue job's `--dataset_contract` argument. */
export interface JobContract {
  readonly name: string;
  readonly columns: readonly { readonly name: string; readonly type: ColumnType; readonly required: boolean }[];
  readonly primaryKey: readonly string[];
  readonly eventTimeColumn: string;
  readonly versionColumn: string;
  readonly partitioning: { readonly keys: readonly PartitionSource[] };
  readonly consumer: ConsumerView;
  readonly consumerTable: string;
  /** Data columns of the consumer table, typed as the catalog declares them (the job writes exactly these). */
  readonly consumerColumns: readonly { readonly name: string; readonly type: ColumnType }[];
  /** What processed holds per primary key (the contract's `processed`, default applied). */
  readonly processed: ProcessedMode;
}
