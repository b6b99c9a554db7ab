/**
 * What happens to one record: it is written to the raw zone under its partition, or quarantined
 * with a reason. The checks are the contract's (the raw → processed Glue job applies the same ones
 * again); partition values follow Firehose's rule (`PartitionLayout.firehoseQuery`), so the API
 * and the stream lay the raw zone out identically:
 *   date key → characters 1-10 of the event-time text, hour key → characters 12-13,
 *   enum key → the column's value, which must be one of the key's values.
 */
import type { JobContract } from "../../datasets";

/** Why a record or page was quarantined. Stable codes: dashboards and the README table use them. */
export const REASONS = {
  // page level
  http_body_not_utf8: "the response body is not valid UTF-8",
  page_too_large: "the response is larger than MAX_PAGE_BYTES",
  invalid_json: "the response is not valid JSON (truncated, HTML, empty, ...)",
  unexpected_shape: "the response is not an object with an array of records and a next link",
  next_link_off_origin: "the next link points to another origin (credentials would leave the API)",
  pagination_loop: "the next link repeats a page already fetched in this run",
  // record level
  not_an_object: "the record is not a JSON object",
  record_too_large: "the record is larger than MAX_RECORD_BYTES",
  invalid_unicode: "a string holds an unpaired UTF-16 surrogate (it cannot be stored as UTF-8)",
  missing_required: "a required column is missing or null",
  wrong_type: "a column's value does not have the contract's type",
  invalid_event_time: "the event time is not an ISO-8601 timestamp with a time zone",
  unknown_partition_value: "a partition column holds a value the environment's partition spec does not allow",
} as const;
export type Reason = keyof typeof REASONS;

export type RecordOutcome =
  | {
      readonly ok: true;
      readonly line: string;
      readonly partition: string;
      /** The version column's value in epoch milliseconds (the high-water mark is the highest). */
      readonly versionMs: number;
    }
  | { readonly ok: false; readonly reason: Reason; readonly detail: string };

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** ISO-8601 date-time with seconds and an explicit zone ("Z" or ±hh:mm). */
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const INT32 = 2 ** 31;

export function checkRecord(record: unknown, contract: JobContract, maxRecordBytes: number): RecordOutcome {
  if (typeof record !== "object" || record === null || Array.isArray(record)) {
    return {
      ok: false,
      reason: "not_an_object",
      detail: `got ${record === null ? "null" : Array.isArray(record) ? "an array" : typeof record}`,
    };
  }
  const line = JSON.stringify(record);
  const bytes = Buffer.byteLength(line, "utf8");
  if (bytes > maxRecordBytes)
    return { ok: false, reason: "record_too_large", detail: `${bytes} bytes > ${maxRecordBytes}` };
  const surrogate = findLoneSurrogate(record as Record<string, unknown>);
  if (surrogate) return { ok: false, reason: "invalid_unicode", detail: `in "${surrogate}"` };

  const values = record as Record<string, unknown>;
  const missing = contract.columns
    .filter((c) => c.required && (values[c.name] === undefined || values[c.name] === null))
    .map((c) => c.name);
  if (missing.length) return { ok: false, reason: "missing_required", detail: missing.join(", ") };
  // The event time decides the partition, so it gets its own reason before the general type check.
  const eventTime = values[contract.eventTimeColumn];
  if (!isTimestamp(eventTime))
    return { ok: false, reason: "invalid_event_time", detail: `${contract.eventTimeColumn}: ${describe(eventTime)}` };
  const wrong: string[] = [];
  for (const column of contract.columns) {
    const value = values[column.name];
    if (value === undefined || value === null || column.name === contract.eventTimeColumn) continue;
    const problem = typeProblem(column.type, value);
    if (problem) wrong.push(`${column.name}: ${problem}`);
  }
  if (wrong.length) return { ok: false, reason: "wrong_type", detail: wrong.join("; ") };

  const segments: string[] = [];
  for (const key of contract.partitioning.keys) {
    let value: string;
    if (key.type === "date") value = eventTime.slice(0, 10);
    else if (key.type === "hour") value = eventTime.slice(11, 13);
    else {
      value = String(values[key.column]);
      if (!(key.values ?? []).includes(value)) {
        return {
          ok: false,
          reason: "unknown_partition_value",
          detail: `${key.column}: ${JSON.stringify(values[key.column])} is not one of ${(key.values ?? []).join(", ")}`,
        };
      }
    }
    segments.push(`${key.name}=${value}/`);
  }
  // The version column is a required timestamp (checked above), or the event time itself.
  const versionMs = Date.parse(String(values[contract.versionColumn ?? contract.eventTimeColumn]));
  return { ok: true, line, partition: segments.join(""), versionMs };
}

function typeProblem(type: string, value: unknown): string | undefined {
  const expected = (what: string) => `expected ${what}, got ${describe(value)}`;
  switch (type) {
    case "string":
      return typeof value === "string" ? undefined : expected("a string");
    case "boolean":
      return typeof value === "boolean" ? undefined : expected("true or false");
    case "double":
      return typeof value === "number" && Number.isFinite(value) ? undefined : expected("a number");
    case "int":
      return typeof value === "number" && Number.isInteger(value) && value >= -INT32 && value < INT32
        ? undefined
        : expected("a 32-bit integer");
    case "bigint":
      // Beyond 2^53 a JSON number has already lost digits when it is parsed: refuse rather than store a wrong id.
      return typeof value === "number" && Number.isSafeInteger(value) ? undefined : expected("an integer within ±2^53");
    case "date":
      return typeof value === "string" && ISO_DATE.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`))
        ? undefined
        : expected("a date yyyy-MM-dd");
    case "timestamp":
      return isTimestamp(value) ? undefined : expected("an ISO-8601 timestamp with a time zone");
    default: {
      const decimal = /^decimal\((\d+),(\d+)\)$/.exec(type);
      if (!decimal) return `unsupported contract type ${type}`;
      const [precision, scale] = [Number(decimal[1]), Number(decimal[2])];
      const text =
        typeof value === "number" && Number.isFinite(value)
          ? String(value)
          : typeof value === "string"
            ? value
            : undefined;
      const match = text === undefined ? null : /^-?(\d+)(?:\.(\d+))?$/.exec(text);
      if (!match) return expected(`a decimal(${precision},${scale})`);
      const [whole, fraction = ""] = [match[1].replace(/^0+(?=\d)/, ""), match[2]];
      return whole.length <= precision - scale && fraction.length <= scale
        ? undefined
        : expected(`a decimal(${precision},${scale})`);
    }
  }
}

function isTimestamp(value: unknown): value is string {
  return (
    typeof value === "string" &&
    ISO_TIMESTAMP.test(value) &&
    !Number.isNaN(Date.parse(value)) &&
    validCalendarDate(value.slice(0, 10))
  );
}

/** Date.parse accepts "2024-02-30" as March 1st; a record with such a date is wrong, not shifted. */
function validCalendarDate(day: string): boolean {
  const date = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === day;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string")
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === "object") return "an object";
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** The first string (key or value, at any depth) with an unpaired surrogate, shortened for the message. */
function findLoneSurrogate(value: unknown): string | undefined {
  if (typeof value === "string") return LONE_SURROGATE.test(value) ? JSON.stringify(value).slice(1, 41) : undefined;
  if (Array.isArray(value)) {
    for (const v of value) {
      const found = findLoneSurrogate(v);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const found = findLoneSurrogate(k) ?? findLoneSurrogate(v);
      if (found) return found;
    }
  }
  return undefined;
}
