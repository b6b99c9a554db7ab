/**
 * Stream queries: windowed aggregates a real-time dataset declares over its stream, computed by a
 * Managed Service for Apache Flink application (modules/streaming/). They are declared
 * structurally — a window, group-by columns and measures — because the Flink SQL is generated from
 * them (modules/streaming/flink-sql.ts): there is no Flink SQL parser for TypeScript, so free text
 * could not be checked at synth. Every check here names the dataset, the query and the problem.
 *
 * Event time drives every window: the contract's `eventTimeColumn`, with a watermark that trails
 * the largest event time seen by `allowedLatenessSeconds`. An event that arrives after the
 * watermark has passed the end of every window it belongs to is dropped from the real-time results
 * (it still lands in the lake through Firehose, and the batch pipeline counts it).
 */
import type { Immutable } from "./immutable";
import { z } from "zod";

/**
 * Default allowed lateness of a stream's event time: 30 seconds. Events reach Kinesis out of order
 * by producer batching (the KPL buffers up to a few seconds), retries and client clock skew, all
 * seconds in practice. Each second of lateness delays every window's result by a second, so half a
 * minute keeps a per-minute result within a minute of its window's close.
 */
export const DEFAULT_ALLOWED_LATENESS_SECONDS = 30;
/** Longest allowed lateness: an hour of window state held open per key (more belongs to the batch pipeline). */
export const MAX_ALLOWED_LATENESS_SECONDS = 3600;
/** Longest window: a day (longer aggregates are what the batch consumer tables are for). */
export const MAX_WINDOW_SECONDS = 86_400;
/** Columns every query's result carries before its group-by columns and measures. */
export const WINDOW_COLUMNS = ["window_start", "window_end"] as const;

/**
 * Measures a stream query may take. Each gives the same result when Kinesis redelivers an event
 * (delivery is at least once): `count` counts distinct primary keys, not records; distinct counts,
 * minimums and maximums ignore a repeat. A sum would count a redelivered event twice, so it is left
 * to the batch consumer tables, which deduplicate first.
 */
export const STREAM_MEASURE_FNS = ["count", "count_distinct", "min", "max"] as const;
export type StreamMeasureFn = (typeof STREAM_MEASURE_FNS)[number];

const identifier = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,62}$/, { error: (i) => `must be a lowercase identifier (got ${JSON.stringify(i.input)})` });
const seconds = (max: number) =>
  z
    .number({ error: (i) => `must be a number of seconds (got ${JSON.stringify(i.input)})` })
    .int({ error: (i) => `must be a whole number of seconds (got ${JSON.stringify(i.input)})` })
    .min(1, { error: (i) => `must be at least 1 second (got ${JSON.stringify(i.input)})` })
    .max(max, { error: (i) => `must be at most ${max} seconds (got ${JSON.stringify(i.input)})` });

export const StreamWindowSchema = z.discriminatedUnion(
  "kind",
  [
    /** Fixed, non-overlapping windows of `sizeSeconds`, aligned to the epoch (a minute starts at :00). */
    z.strictObject({ kind: z.literal("tumbling"), sizeSeconds: seconds(MAX_WINDOW_SECONDS) }),
    /** Windows of `sizeSeconds` starting every `slideSeconds` (an event belongs to size/slide windows). */
    z.strictObject({
      kind: z.literal("hopping"),
      sizeSeconds: seconds(MAX_WINDOW_SECONDS),
      slideSeconds: seconds(MAX_WINDOW_SECONDS),
    }),
  ],
  {
    error: (i) =>
      `must be "tumbling" or "hopping" (got ${JSON.stringify((i.input as { kind?: unknown } | undefined)?.kind)})`,
  },
);

export const StreamMeasureSchema = z.strictObject({
  name: identifier,
  /** `count` counts events (by primary key); `count_distinct` distinct values of `column`; `min`/`max` over `column`. */
  fn: z.enum(STREAM_MEASURE_FNS, {
    error: (i) => `must be one of ${STREAM_MEASURE_FNS.join(", ")} (got ${JSON.stringify(i.input)})`,
  }),
  column: z.string().optional(),
  description: z.string().min(1, { error: "must say what the measure means" }),
});

export const StreamQuerySchema = z.strictObject({
  /** Lowercase identifier; the result table is "<dataset>_<name>". */
  name: identifier,
  description: z.string().min(1, { error: "must say what the query answers" }),
  window: StreamWindowSchema,
  /** Columns grouped by within each window (the window itself is always grouped by). */
  groupBy: z.array(z.string()),
  measures: z.array(StreamMeasureSchema).min(1, { error: "must list at least one measure" }),
});

export const StreamQueriesSchema = z.strictObject({
  /** How far behind the largest event time seen the watermark trails. @default DEFAULT_ALLOWED_LATENESS_SECONDS */
  allowedLatenessSeconds: z
    .number({ error: (i) => `must be a number of seconds (got ${JSON.stringify(i.input)})` })
    .int({ error: (i) => `must be a whole number of seconds (got ${JSON.stringify(i.input)})` })
    .min(0, { error: (i) => `must be ≥ 0 (got ${JSON.stringify(i.input)})` })
    .max(MAX_ALLOWED_LATENESS_SECONDS, {
      error: (i) =>
        `must be at most ${MAX_ALLOWED_LATENESS_SECONDS} seconds: longer lateness belongs to the batch pipeline (got ${JSON.stringify(i.input)})`,
    })
    .optional(),
  queries: z.array(StreamQuerySchema).min(1, { error: "must list at least one query" }),
});

export type StreamWindow = z.infer<typeof StreamWindowSchema>;
export type StreamMeasure = z.infer<typeof StreamMeasureSchema>;
export type StreamQuery = z.infer<typeof StreamQuerySchema>;
/** What a contract declares (`DatasetContract.streamQueries`). */
export type StreamQueriesDeclaration = z.input<typeof StreamQueriesSchema>;
/** The declaration with its defaults applied: what the SQL generator and the application read. */
export interface ResolvedStreamQueries {
  readonly allowedLatenessSeconds: number;
  readonly queries: readonly StreamQuery[];
}

/** The parts of a contract the checks read (kept structural so the contract module can evolve). */
export interface StreamQueryContract {
  readonly name: string;
  readonly columns: readonly { readonly name: string; readonly type: string; readonly required?: boolean }[];
  readonly eventTimeColumn: string;
  readonly source: { readonly kind: string };
  readonly streamQueries?: Immutable<StreamQueriesDeclaration>;
}

const ORDERED = /^(int|bigint|double|decimal\(\d+,\d+\)|string|date|timestamp)$/;

/**
 * Every problem of a contract's stream queries, each naming the query ("stream query \"x\": …");
 * the contract's own check prefixes the dataset. Empty when the contract declares none.
 */
export function streamQueryProblems(contract: StreamQueryContract): string[] {
  const declared = contract.streamQueries;
  if (declared === undefined) return [];
  const parsed = StreamQueriesSchema.safeParse(declared);
  if (!parsed.success) {
    return parsed.error.issues.map((issue) => {
      const [first, index, ...rest] = issue.path;
      const name =
        first === "queries" && typeof index === "number"
          ? (declared.queries?.[index] as { name?: unknown } | undefined)?.name
          : undefined;
      const where =
        name !== undefined
          ? `stream query ${JSON.stringify(name)}: ${rest.join(".")}`
          : `streamQueries.${issue.path.join(".")}`;
      return `${where}${where.endsWith(": ") ? "" : ": "}${issue.message}`;
    });
  }
  const problems: string[] = [];
  if (contract.source.kind !== "kinesis") {
    problems.push(
      `streamQueries: need a stream to run on, but the source is "${contract.source.kind}" (only a "kinesis" source has one)`,
    );
  }
  const columns = new Map(contract.columns.map((c) => [c.name, c]));
  const eventTime = columns.get(contract.eventTimeColumn);
  if (!eventTime || eventTime.type !== "timestamp" || !eventTime.required) {
    problems.push(
      `streamQueries: windows need a required timestamp event time, and eventTimeColumn "${contract.eventTimeColumn}" is not one`,
    );
  }
  const seen = new Set<string>();
  for (const query of parsed.data.queries) {
    const at = (problem: string) => problems.push(`stream query "${query.name}": ${problem}`);
    if (seen.has(query.name)) at("is declared twice");
    seen.add(query.name);
    const { window } = query;
    if (window.kind === "hopping") {
      if (window.slideSeconds >= window.sizeSeconds)
        at(
          `window.slideSeconds (${window.slideSeconds}) must be less than sizeSeconds (${window.sizeSeconds}); a slide of the size is a tumbling window`,
        );
      else if (window.sizeSeconds % window.slideSeconds !== 0)
        at(
          `window.sizeSeconds (${window.sizeSeconds}) must be a whole multiple of slideSeconds (${window.slideSeconds}): Flink slices hopping windows by the slide`,
        );
    }
    if (MAX_WINDOW_SECONDS % window.sizeSeconds !== 0) {
      at(
        `window.sizeSeconds (${window.sizeSeconds}) must divide a day (86400 s), so windows align to the day and its partitions`,
      );
    }
    const outputs = new Set<string>(WINDOW_COLUMNS);
    for (const column of query.groupBy) {
      if (column === contract.eventTimeColumn)
        at(`groupBy column "${column}" is the event time, which the window already groups by`);
      else if (!columns.has(column)) at(`groupBy column "${column}" is not a column of the contract`);
      if (outputs.has(column))
        at(`groupBy column "${column}" is listed twice or clashes with ${WINDOW_COLUMNS.join("/")}`);
      outputs.add(column);
    }
    for (const measure of query.measures) {
      if (outputs.has(measure.name)) at(`measure "${measure.name}" clashes with another result column`);
      outputs.add(measure.name);
      if (measure.fn === "count") {
        if (measure.column !== undefined)
          at(
            `measure "${measure.name}" counts events and takes no column (use count_distinct to count values of "${measure.column}")`,
          );
        continue;
      }
      const column = measure.column === undefined ? undefined : columns.get(measure.column);
      if (measure.column === undefined) at(`measure "${measure.name}" (${measure.fn}) needs a column`);
      else if (!column)
        at(`measure "${measure.name}" reads "${measure.column}", which is not a column of the contract`);
      else if ((measure.fn === "min" || measure.fn === "max") && !ORDERED.test(column.type))
        at(
          `measure "${measure.name}" takes the ${measure.fn} of "${measure.column}", which has no order (${column.type})`,
        );
    }
  }
  return problems;
}

/** The contract's stream queries with defaults applied, or undefined when it declares none (call after the checks). */
export function resolveStreamQueries(
  contract: Pick<StreamQueryContract, "streamQueries">,
): ResolvedStreamQueries | undefined {
  const declared = contract.streamQueries;
  if (declared === undefined) return undefined;
  const parsed = StreamQueriesSchema.parse(declared);
  return {
    allowedLatenessSeconds: parsed.allowedLatenessSeconds ?? DEFAULT_ALLOWED_LATENESS_SECONDS,
    queries: parsed.queries,
  };
}
