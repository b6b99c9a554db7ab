/**
 * Sample records for any dataset, derived from its contract and the environment's partition spec
 * alone (no dataset is named here): good rows (scripts/local/postgres.ts `sampleRows`, seeded), plus
 * one bad row for each rule of the raw → processed validation (glue-jobs/dataplat_glue/validate.py)
 * the contract makes applicable and the source can carry:
 *
 *   missing_required             a required column (not a key, not the event time) is null/absent
 *   partition_value_not_allowed  an enum partition column holds a value outside the spec's list
 *   before_partition_range       the event time is a day before the date key's rangeStart
 *   event_in_future              the event time is far beyond any run's --as_of (2099)
 *   wrong_type                   a numeric or boolean column holds text      (not from a typed table)
 *   invalid_timestamp            the event time is not ISO-8601              (not from a typed table)
 *
 * A PostgreSQL table stores typed values, so an RDS source cannot carry the last two; every other
 * source carries JSON-like values and gets them all. Same contract and seed, same records.
 */
import type { Column, DatasetContract } from "../../datasets";
import type { PartitionSpec } from "../../environments";
import { defined } from "../../modules/shared/defined";
import { sampleRows, type Row } from "./postgres";

export type BadReason =
  | "missing_required"
  | "partition_value_not_allowed"
  | "before_partition_range"
  | "event_in_future"
  | "wrong_type"
  | "invalid_timestamp";

export interface SampleSet {
  readonly good: readonly Row[];
  /** Each with the quarantine reason the platform must give it. */
  readonly bad: readonly { readonly reason: BadReason; readonly row: Row }[];
}

/** Source kinds whose values are typed by the store (a bad type cannot be written there). */
const TYPED_SOURCES = new Set(["rds"]);
const NUMERIC = /^(int|bigint|double|decimal\(\d+,\d+\))$/;

export function sampleSet(
  contract: DatasetContract,
  spec: PartitionSpec,
  options: { count?: number; seed?: number; days?: number } = {},
): SampleSet {
  const good = sampleRows(contract, {
    partitioning: spec,
    count: options.count ?? 60,
    seed: options.seed ?? 20240101,
    days: options.days,
  });
  const keyed = (
    i: number,
    reason: BadReason,
    change: (row: Record<string, Row[string]>) => void,
  ): { reason: BadReason; row: Row } => {
    const row: Record<string, Row[string]> = { ...good[i % good.length] };
    for (const key of contract.primaryKey) {
      const column = defined(
        contract.columns.find((c) => c.name === key),
        `primary key column ${key}`,
      );
      row[key] = column.type === "int" || column.type === "bigint" ? 900_000 + i : `${String(row[key])}-bad-${reason}`;
    }
    change(row);
    return { reason, row };
  };
  const enums = spec.keys.flatMap((k) => (k.type === "enum" ? [k] : []));
  const dateKey = spec.keys.find((k) => k.type === "date");
  const event = contract.eventTimeColumn;
  const version = contract.versionColumn ?? event;
  const partitionColumns = new Set(enums.map((k) => k.name));
  const plain = (c: Column) =>
    !contract.primaryKey.includes(c.name) && c.name !== event && c.name !== version && !partitionColumns.has(c.name);
  const bad: { reason: BadReason; row: Row }[] = [];
  const requiredColumn = contract.columns.find((c) => c.required && plain(c));
  if (requiredColumn) bad.push(keyed(1, "missing_required", (r) => (r[requiredColumn.name] = null)));
  if (enums.length)
    bad.push(keyed(2, "partition_value_not_allowed", (r) => (r[enums[0].name] = `not-${enums[0].values[0]}`)));
  if (dateKey && dateKey.type === "date") {
    const before = new Date(Date.parse(`${dateKey.rangeStart}T12:00:00Z`) - 86_400_000)
      .toISOString()
      .replace(".000Z", "Z");
    bad.push(keyed(3, "before_partition_range", (r) => ((r[event] = before), (r[version] = before))));
  }
  bad.push(
    keyed(4, "event_in_future", (r) => ((r[event] = "2099-01-01T00:00:00Z"), (r[version] = "2099-01-01T00:00:00Z"))),
  );
  if (!TYPED_SOURCES.has(contract.source.kind)) {
    const typed = contract.columns.find((c) => plain(c) && (NUMERIC.test(c.type) || c.type === "boolean"));
    if (typed) bad.push(keyed(5, "wrong_type", (r) => (r[typed.name] = "not-a-value")));
    bad.push(keyed(6, "invalid_timestamp", (r) => (r[event] = "yesterday at noon")));
  }
  return { good, bad };
}
