/**
 * Dataset contracts: one typed definition per dataset. Tables, crawler targets, named queries,
 * job arguments and stream routing are generated from these, so a dataset is added in one place.
 *
 * `defineDataset` validates a contract against `DatasetSchema` (zod, as the environments are) and
 * returns it resolved: every default filled in, so nothing downstream repeats one. Every broken
 * rule is reported at once, as "<dataset>: <field>: <rule>".
 */
import { z } from "zod";
import type { PartitionSpec } from "../environments";
import { formatPath } from "../environments/errors";
import { ContractError, rule, show, type ContractProblem, type FieldProblem } from "./errors";
import { decideEngine, IngestionProfileSchema, ingestionProblems, type Engine } from "./ingestion";
import { PartitionLayout, type PartitionSource } from "./partitioning";
import type { Immutable } from "./immutable";
import { streamQueryProblems, type StreamQueriesDeclaration } from "./stream-queries";
import { DEFAULT_DATASET_ZONES, ZONES, type Zone } from "./zones";

export { ContractError } from "./errors";

export type { Immutable } from "./immutable";

/** Scalar Glue/Hive column types the platform supports (what Spark writes and Athena reads). */
export const SCALAR_TYPES = ["string", "int", "bigint", "double", "boolean", "date", "timestamp"] as const;
/** A supported column type: a scalar or `decimal(<precision>,<scale>)`. */
export type ColumnType = (typeof SCALAR_TYPES)[number] | `decimal(${number},${number})`;
const DECIMAL = /^decimal\((\d{1,2}),(\d{1,2})\)$/;
/** Hive's decimal: precision 1 to 38, scale at most the precision. */
function isColumnType(value: unknown): value is ColumnType {
  if (typeof value !== "string") return false;
  if ((SCALAR_TYPES as readonly string[]).includes(value)) return true;
  const m = DECIMAL.exec(value);
  return m !== null && Number(m[1]) >= 1 && Number(m[1]) <= 38 && Number(m[2]) <= Number(m[1]);
}
const NUMERIC = /^(int|bigint|double|decimal\(\d+,\d+\))$/;

const IDENTIFIER = /^[a-z][a-z0-9_]{0,62}$/;
const identifier = z.string({ error: rule("must be a string") }).regex(IDENTIFIER, {
  error: rule(
    "must be a lowercase identifier (letters, digits, underscore; starting with a letter, at most 63 characters)",
  ),
});
const text = z.string({ error: rule("must be a string") });
const nonBlank = (message: string) => text.refine((v) => v.trim() !== "", { error: rule(message) });

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

const ColumnSchema = z.strictObject({
  name: identifier,
  type: z.custom<ColumnType>(isColumnType, {
    error: rule(`must be one of ${SCALAR_TYPES.join(", ")} or decimal(<precision 1-38>,<scale up to the precision>)`),
  }),
  /** Rows without a value are quarantined. @default false */
  required: z.boolean({ error: rule("must be true or false") }).optional(),
  description: text,
});

const MeasureSchema = z.strictObject({
  name: identifier,
  /** `count` counts rows; `sum` adds a numeric column; `count_distinct` counts distinct values of a column. */
  fn: z.enum(["count", "sum", "count_distinct"], { error: rule('must be "count", "sum" or "count_distinct"') }),
  /** Source column (not for `count`). */
  column: text.optional(),
  description: text,
});

/**
 * What the consumer zone holds for a dataset.
 * - `curated`: the deduplicated, contract-checked records, same columns as processed.
 * - `aggregate`: one row per partition and `groupBy` values, with `measures`.
 */
const ConsumerViewSchema = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({ kind: z.literal("curated") }),
    z.strictObject({
      kind: z.literal("aggregate"),
      /** Consumer table name suffix, e.g. "daily" → table "<dataset>_daily". */
      name: identifier,
      /** Grouping columns in addition to the partition keys (partition keys are always grouped by). */
      groupBy: z.array(text, { error: rule("must be a list of column names") }),
      measures: z
        .array(MeasureSchema, { error: rule("must be a list of measures") })
        .min(1, { error: rule("must list at least one measure") }),
    }),
  ],
  { error: discriminator("kind", ["curated", "aggregate"]) },
);

/**
 * How an API source is read, declared because it depends on what the API offers.
 * - `since`: the API filters on the dataset's version column through the query parameter
 *   `parameter` (records whose version is at or after the value, an ISO-8601 UTC timestamp) and
 *   keeps the filter in its next links. Each run asks for records from the function's high-water
 *   mark (the highest version it has written) minus `overlapSeconds`; the first run reads in full.
 * - `full`: the API has no such filter, so every run reads every record, by design; `reason` says
 *   why. Each run then re-writes what the API returns.
 */
const ApiIncrementalSchema = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({
      kind: z.literal("since"),
      parameter: text.regex(QUERY_PARAMETER, {
        error: rule("must be a query parameter name (letters, digits, _ . - [ ])"),
      }),
      /** Re-read this far behind the mark, for clock skew and late commits. @default DEFAULT_API_OVERLAP_SECONDS */
      overlapSeconds: z
        .number({ error: rule("must be a number") })
        .int({ error: rule(`must be a whole number of seconds from 0 to ${MAX_API_OVERLAP_SECONDS}`) })
        .min(0, { error: rule(`must be a whole number of seconds from 0 to ${MAX_API_OVERLAP_SECONDS}`) })
        .max(MAX_API_OVERLAP_SECONDS, {
          error: rule(`must be a whole number of seconds from 0 to ${MAX_API_OVERLAP_SECONDS}`),
        })
        .optional(),
    }),
    z.strictObject({ kind: z.literal("full"), reason: nonBlank("must say why the API is read in full") }),
  ],
  {
    error: discriminator(
      "kind",
      ["since", "full"],
      'is required: declare { kind: "since", parameter: "<query parameter>" } when the API filters by version, or { kind: "full", reason: "…" } when it cannot',
    ),
  },
);

const DatasetSourceSchema = z.discriminatedUnion(
  "kind",
  [
    /** A table in the operational database, read over a Glue JDBC connection. */
    z.strictObject({ kind: z.literal("rds"), table: nonBlank("must name the table") }),
    /** A DynamoDB table, read through its point-in-time export (no read capacity used). */
    z.strictObject({ kind: z.literal("dynamodb"), table: nonBlank("must name the table") }),
    /** Events on the platform's Kinesis stream, delivered by Firehose. */
    z.strictObject({ kind: z.literal("kinesis") }),
    /** An external HTTP API, paged by the api-ingest Lambda. */
    z.strictObject({
      kind: z.literal("api"),
      /** Path of the first page, joined to the environment's API base URL. */
      path: text.regex(/^\/\S*$/, { error: rule('must be a path starting with "/"') }),
      incremental: ApiIncrementalSchema,
    }),
  ],
  { error: discriminator("kind", ["rds", "dynamodb", "kinesis", "api"]) },
);

/** What processed holds for a primary key; see `DatasetContract.processed`. */
export const PROCESSED_MODES = ["current-state", "event-log"] as const;
export type ProcessedMode = (typeof PROCESSED_MODES)[number];

const ContractFields = z.strictObject(
  {
    /** Lowercase identifier; the dataset's folder in every zone and the base of its table names. */
    name: identifier,
    description: text,
    columns: z
      .array(ColumnSchema, { error: rule("must be a list of columns") })
      .min(1, { error: rule("must list at least one column") }),
    /** Columns that identify a record; duplicates keep the latest version. */
    primaryKey: z
      .array(text, { error: rule("must be a list of column names") })
      .min(1, { error: rule("must name at least one column") }),
    /** ISO-8601 timestamp column the date (and hour) partition keys derive from. */
    eventTimeColumn: text,
    /** Column ordering versions of one record; the highest wins deduplication. @default eventTimeColumn */
    versionColumn: text.optional(),
    source: DatasetSourceSchema,
    /**
     * Expected volume, duration and latency of one ingestion run; the engine follows from the
     * platform's rules (datasets/ingestion.ts). An explicit `engine` must agree with them.
     */
    ingestion: IngestionProfileSchema,
    /** Zones the dataset lives in. @default DEFAULT_DATASET_ZONES (raw, processed, consumer) */
    zones: z
      .array(z.enum(ZONES, { error: rule(`must be one of ${ZONES.join(", ")}`) }), {
        error: rule("must be a list of zones"),
      })
      .min(1, { error: rule("must list at least one zone") })
      .optional(),
    /** What the processed → consumer job produces. @default { kind: "curated" } */
    consumer: ConsumerViewSchema.optional(),
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
    processed: z.enum(PROCESSED_MODES, { error: rule('must be "current-state" or "event-log"') }).optional(),
    /**
     * Windowed aggregates computed on the stream as events arrive; checked by `streamQueryProblems`
     * (datasets/stream-queries.ts), which names the query. @default none
     */
    streamQueries: z
      .custom<StreamQueriesDeclaration>((value) => typeof value === "object" && value !== null, {
        error: rule("must be an object with queries"),
      })
      .optional(),
  },
  { error: rule("must be an object") },
);
type ContractFields = z.output<typeof ContractFields>;

/**
 * A zod error callback for a discriminated union: names the discriminator's allowed values and the
 * one given (zod reports the issue at `<field>.<key>` but passes the whole object).
 */
function discriminator(key: string, kinds: readonly string[], whenMissing = "is required") {
  const allowed = kinds
    .map((k) => `"${k}"`)
    .join(", ")
    .replace(/, ([^,]*)$/, " or $1");
  return (issue: { readonly input?: unknown }) => {
    if (issue.input === undefined) return whenMissing;
    if (typeof issue.input !== "object" || issue.input === null)
      return `must be an object with ${key} ${allowed} (got ${show(issue.input)})`;
    return `must be ${allowed} (got ${show((issue.input as Record<string, unknown>)[key])})`;
  };
}

/**
 * A cross-field rule that runs only when the fields it reads are valid (it would otherwise report a
 * consequence of a problem already listed), even when other fields are not: every independent
 * problem is reported at once.
 */
function crossField(reads: readonly (keyof ContractFields)[], check: (contract: ContractFields) => FieldProblem[]) {
  return [
    (contract: ContractFields, ctx: z.RefinementCtx) => {
      for (const p of check(contract))
        ctx.addIssue({ code: "custom", path: p.field.split("."), message: p.rule, input: undefined });
    },
    {
      when: (payload: z.core.ParsePayload) =>
        !payload.issues.some((i) => {
          const path = i.path ?? [];
          return (
            (path.length === 0 && i.code !== "unrecognized_keys") || reads.includes(path[0] as keyof ContractFields)
          );
        }),
    },
  ] as const;
}

const columnsOf = (c: ContractFields) => new Map(c.columns.map((col) => [col.name, col]));

/** The contract schema: fields, then the rules between them. */
export const DatasetSchema = ContractFields.superRefine(
  ...crossField(["columns"], (c) =>
    c.columns.flatMap((col, i) =>
      c.columns.findIndex((o) => o.name === col.name) < i
        ? [{ field: `columns[${i}].name`, rule: `"${col.name}" is defined twice` }]
        : [],
    ),
  ),
)
  .superRefine(
    ...crossField(["columns", "primaryKey"], (c) =>
      c.primaryKey.flatMap((key, i): FieldProblem[] => {
        const column = columnsOf(c).get(key);
        if (!column) return [{ field: `primaryKey[${i}]`, rule: `"${key}" is not a column` }];
        return column.required ? [] : [{ field: `primaryKey[${i}]`, rule: `"${key}" must be a required column` }];
      }),
    ),
  )
  .superRefine(
    ...crossField(["columns", "eventTimeColumn", "versionColumn"], (c) =>
      (["eventTimeColumn", "versionColumn"] as const).flatMap((field): FieldProblem[] => {
        const name = c[field];
        if (name === undefined) return [];
        const column = columnsOf(c).get(name);
        if (!column) return [{ field, rule: `"${name}" is not a column` }];
        if (column.type !== "timestamp")
          return [{ field, rule: `"${name}" must be a timestamp column (got ${column.type})` }];
        return column.required ? [] : [{ field, rule: `"${name}" must be a required column` }];
      }),
    ),
  )
  .superRefine(
    ...crossField(["eventTimeColumn", "versionColumn", "processed"], (c) =>
      (c.processed ?? defaultProcessed(c)) === "current-state" &&
      (c.versionColumn ?? c.eventTimeColumn) === c.eventTimeColumn
        ? [
            {
              field: "processed",
              rule:
                `"current-state" needs a partition time that versions do not change, but eventTimeColumn and versionColumn are both ` +
                `"${c.eventTimeColumn}" (a new version would land in another partition and both would survive): partition by an ` +
                `immutable time (e.g. creation) and set versionColumn, or declare processed: "event-log"`,
            },
          ]
        : [],
    ),
  )
  .superRefine(
    ...crossField(["columns", "consumer"], (c) => {
      if (c.consumer?.kind !== "aggregate") return [];
      const columns = columnsOf(c);
      const problems: FieldProblem[] = c.consumer.groupBy.flatMap((g, i) =>
        columns.has(g) ? [] : [{ field: `consumer.groupBy[${i}]`, rule: `"${g}" is not a column` }],
      );
      c.consumer.measures.forEach((m, i) => {
        const field = `consumer.measures[${i}].column`;
        if (m.fn === "count") {
          if (m.column !== undefined)
            problems.push({ field, rule: `must be omitted for count, which counts rows (got ${show(m.column)})` });
          return;
        }
        const column = m.column === undefined ? undefined : columns.get(m.column);
        if (m.column === undefined) problems.push({ field, rule: `is required: ${m.fn} reads a column` });
        else if (!column) problems.push({ field, rule: `"${m.column}" is not a column` });
        else if (m.fn === "sum" && !NUMERIC.test(column.type))
          problems.push({ field, rule: `"${m.column}" is not numeric (${column.type}): sum adds numbers` });
      });
      return problems;
    }),
  )
  .superRefine(...crossField(["source", "ingestion"], (c) => ingestionProblems(c.source.kind, c.ingestion)))
  .superRefine(
    ...crossField(["source"], (c) =>
      c.source.kind === "api" &&
      c.source.incremental.kind === "since" &&
      new URL(c.source.path, "https://api.invalid").searchParams.has(c.source.incremental.parameter)
        ? [
            {
              field: "source.incremental.parameter",
              rule: `"${c.source.incremental.parameter}" is already in source.path; the function sets it`,
            },
          ]
        : [],
    ),
  )
  .superRefine(
    ...crossField(["columns", "eventTimeColumn", "source", "streamQueries"], (c) =>
      c.streamQueries === undefined ? [] : streamQueryProblems(c).map(streamQueryProblem),
    ),
  )
  .transform((c) => ({
    ...c,
    versionColumn: c.versionColumn ?? c.eventTimeColumn,
    zones: c.zones ?? [...DEFAULT_DATASET_ZONES],
    consumer: c.consumer ?? { kind: "curated" as const },
    processed: c.processed ?? defaultProcessed(c),
  }));

/** A stream-query problem ("stream query \"x\": …" or "streamQueries.<path>: …") as a field and its rule. */
function streamQueryProblem(problem: string): FieldProblem {
  if (!problem.startsWith("streamQueries")) return { field: "streamQueries", rule: problem };
  const at = problem.indexOf(": ");
  return { field: problem.slice(0, at), rule: problem.slice(at + 2) };
}

/** A contract as written: what `defineDataset` takes. */
export type DatasetContract = Immutable<z.input<typeof DatasetSchema>>;
/** A validated contract with every default filled in: what `defineDataset` returns and the platform builds from. */
export type Dataset = Immutable<z.output<typeof DatasetSchema>>;
export type Column = Immutable<z.output<typeof ColumnSchema>>;
export type Measure = Immutable<z.output<typeof MeasureSchema>>;
export type ConsumerView = Immutable<z.output<typeof ConsumerViewSchema>>;
export type DatasetSource = Immutable<z.output<typeof DatasetSourceSchema>>;
export type ApiIncremental = Immutable<z.output<typeof ApiIncrementalSchema>>;

/** `DatasetContract.processed` when a contract does not say (see its `@default`). */
export function defaultProcessed(contract: {
  readonly eventTimeColumn: string;
  readonly versionColumn?: string;
}): ProcessedMode {
  return contract.versionColumn !== undefined && contract.versionColumn !== contract.eventTimeColumn
    ? "current-state"
    : "event-log";
}

/**
 * Validates a contract and returns it resolved (defaults filled in) and frozen. Throws a
 * ContractError listing every problem, each naming the dataset, the field and the rule.
 */
export function defineDataset(contract: DatasetContract): Dataset {
  const result = DatasetSchema.safeParse(contract);
  if (result.success) return Object.freeze(result.data);
  const name = typeof contract?.name === "string" && contract.name ? contract.name : "(unnamed)";
  throw new ContractError(result.error.issues.flatMap((issue) => problemsOf(name, issue)));
}

function problemsOf(dataset: string, issue: z.core.$ZodIssue): ContractProblem[] {
  const field = formatPath(issue.path);
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({
      dataset,
      field: field ? `${field}.${key}` : key,
      rule: "is not a field of a dataset contract: check its spelling",
    }));
  }
  return [{ dataset, field: field || "(contract)", rule: issue.message }];
}

/** The API source's read mode with its defaults applied: what the api-ingest function is configured with. */
export function resolvedApiIncremental(
  incremental: ApiIncremental,
): Required<Extract<ApiIncremental, { kind: "since" }>> | Extract<ApiIncremental, { kind: "full" }> {
  return incremental.kind === "since"
    ? {
        kind: "since",
        parameter: incremental.parameter,
        overlapSeconds: incremental.overlapSeconds ?? DEFAULT_API_OVERLAP_SECONDS,
      }
    : incremental;
}

/** A contract with an environment's partition spec applied: what tables and jobs are built from. */
export class PartitionedDataset {
  readonly layout: PartitionLayout;
  /** Columns stored in the data files (partition columns live in the path, not in the file). */
  readonly dataColumns: readonly Column[];

  constructor(
    readonly contract: Dataset,
    spec: PartitionSpec,
    environment: string,
  ) {
    this.layout = new PartitionLayout(spec);
    const problems: FieldProblem[] = [];
    for (const key of spec.keys) {
      const index = contract.columns.findIndex((c) => c.name === key.name);
      const column = contract.columns[index];
      if (key.type === "enum") {
        if (!column)
          problems.push({
            field: "columns",
            rule: `has no column "${key.name}", which ${environment}'s partition key "${key.name}" reads`,
          });
        else if (!column.required)
          problems.push({
            field: `columns[${index}].required`,
            rule: `must be true: column "${key.name}" feeds ${environment}'s partition key "${key.name}"`,
          });
      } else if (column) {
        problems.push({
          field: `columns[${index}].name`,
          rule: `"${key.name}" clashes with ${environment}'s derived partition key "${key.name}"`,
        });
      }
    }
    if (problems.length) throw new ContractError(problems.map((p) => ({ dataset: contract.name, ...p })));
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
    return this.contract.versionColumn;
  }

  /** Zones the dataset lives in (see `livesIn`). */
  get zones(): readonly Zone[] {
    return this.contract.zones;
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
    return this.contract.consumer;
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
    // the schema has checked that groupBy and measure columns are columns
    const group = this.contract.columns.filter((c) => view.groupBy.includes(c.name) && !partitionNames.has(c.name));
    group.sort((a, b) => view.groupBy.indexOf(a.name) - view.groupBy.indexOf(b.name));
    const measures = view.measures.map((m): Column => {
      const source = this.contract.columns.find((c) => c.name === m.column)?.type;
      const type: ColumnType =
        m.fn === "sum"
          ? source?.startsWith("decimal")
            ? "decimal(38,2)"
            : source === "double"
              ? "double"
              : "bigint"
          : "bigint";
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
      processed: this.contract.processed,
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
