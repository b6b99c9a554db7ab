/**
 * The main job's sample records come from the contract alone: good rows, and one bad row per rule
 * of the raw → processed validation that the contract makes applicable and its source can carry.
 */
import { defineDataset, type DatasetContract } from "../../datasets";
import type { PartitionSpec } from "../../environments";
import { sampleSet } from "../../scripts/local/sample-data";

const spec: PartitionSpec = {
  keys: [
    { name: "dt", type: "date", format: "yyyy-MM-dd", rangeStart: "2024-01-01" },
    { name: "zone", type: "enum", values: ["north", "south"] },
  ],
};

function contract(source: DatasetContract["source"]): DatasetContract {
  return defineDataset({
    name: "things",
    description: "test",
    source,
    ingestion:
      source.kind === "kinesis"
        ? { volumeMb: 10, durationMinutes: 1, latency: "real-time" }
        : { volumeMb: 2000, durationMinutes: 30, latency: "batch" },
    primaryKey: ["thing_id"],
    eventTimeColumn: "made_at",
    columns: [
      { name: "thing_id", type: "string", required: true, description: "id" },
      { name: "zone", type: "string", required: true, description: "zone" },
      { name: "colour", type: "string", required: true, description: "colour" },
      { name: "weight", type: "double", description: "weight" },
      { name: "made_at", type: "timestamp", required: true, description: "made" },
    ],
  });
}

it("makes a bad row for every rule a typed table can break, and the type rules too for JSON sources", () => {
  expect(sampleSet(contract({ kind: "rds", table: "public.things" }), spec).bad.map((b) => b.reason)).toEqual([
    "missing_required",
    "partition_value_not_allowed",
    "before_partition_range",
    "event_in_future",
  ]);
  const json = sampleSet(contract({ kind: "kinesis" }), spec);
  expect(json.bad.map((b) => b.reason)).toEqual([
    "missing_required",
    "partition_value_not_allowed",
    "before_partition_range",
    "event_in_future",
    "wrong_type",
    "invalid_timestamp",
  ]);
  const byReason = Object.fromEntries(json.bad.map((b) => [b.reason, b.row]));
  expect(byReason.missing_required.colour).toBeNull();
  expect(spec.keys[1].type === "enum" && spec.keys[1].values).not.toContain(byReason.partition_value_not_allowed.zone);
  expect(String(byReason.before_partition_range.made_at) < "2024-01-01").toBe(true);
  expect(byReason.wrong_type.weight).toBe("not-a-value");
  expect(byReason.invalid_timestamp.made_at).toBe("yesterday at noon");
});

it("gives good rows valid values, unique keys, and the same records every time", () => {
  const c = contract({ kind: "kinesis" });
  const set = sampleSet(c, spec);
  expect(sampleSet(c, spec)).toEqual(set);
  const keys = [...set.good, ...set.bad.map((b) => b.row)].map((r) => r.thing_id);
  expect(new Set(keys).size).toBe(keys.length);
  for (const row of set.good) {
    expect(["north", "south"]).toContain(row.zone);
    expect(String(row.made_at)).toMatch(/^2024-01-0[1-3]T\d\d:\d\d:\d\dZ$/);
    expect(row.colour).toEqual(expect.any(String));
  }
});
