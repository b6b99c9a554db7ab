/**
 * Dataset contracts: `defineDataset` validates with the contract schema and returns the contract
 * resolved. A bad contract stops synth with every problem at once, each naming the dataset, the
 * field and the rule; the corpus of one-rule breaks is the one the docs table is generated from.
 */
import {
  ContractError,
  DATASETS,
  DEFAULT_DATASET_ZONES,
  PartitionedDataset,
  defineDataset,
  livesIn,
  type DatasetContract,
} from "../../datasets";
import { loadEnvironment } from "../../environments";
import { BAD_CONTRACTS, PARCELS } from "../fixtures/bad-contracts";

function errorOf(contract: DatasetContract): ContractError {
  try {
    defineDataset(contract);
  } catch (error) {
    if (error instanceof ContractError) return error;
    throw error;
  }
  throw new Error(`contract ${contract.name} was accepted`);
}

describe("a bad contract fails with dataset, field and rule", () => {
  it("the corpus's base contract is sound, and every case is a different problem", () => {
    expect(() => defineDataset(PARCELS)).not.toThrow();
    expect(BAD_CONTRACTS.length).toBeGreaterThanOrEqual(20);
    expect(new Set(BAD_CONTRACTS.map(([title]) => title)).size).toBe(BAD_CONTRACTS.length);
    expect(new Set(BAD_CONTRACTS.map(([, , error]) => error)).size).toBe(BAD_CONTRACTS.length);
  });

  it.each(BAD_CONTRACTS)("%s", (_title, contract, expected) => {
    const error = errorOf(contract);
    expect(error.problems.map((p) => `${p.dataset}: ${p.field}: ${p.rule}`)).toEqual([expected]);
    expect(error.message).toBe(`Invalid dataset contract ${error.problems[0].dataset} (1 problem):\n  - ${expected}`);
  });

  it("lists every independent problem in one message", () => {
    const error = errorOf({
      ...PARCELS,
      columns: [
        ...PARCELS.columns.slice(0, 3),
        { name: "weight_kg", type: "money" as never, description: "Parcel weight" },
        ...PARCELS.columns.slice(4),
      ],
      primaryKey: ["parcel_id"],
      processed: "snapshot" as never,
      source: { kind: "api", path: "/v1/parcels", incremental: { kind: "full", reason: " " } },
      ingestion: { volumeMb: -1, durationMinutes: 2, latency: "hourly" as never },
    });
    expect(error.message).toBe(
      [
        "Invalid dataset contract parcels (5 problems):",
        '  - parcels: columns[3].type: must be one of string, int, bigint, double, boolean, date, timestamp or decimal(<precision 1-38>,<scale up to the precision>) (got "money")',
        '  - parcels: source.incremental.reason: must say why the API is read in full (got " ")',
        "  - parcels: ingestion.volumeMb: must be a number ≥ 0 (got -1)",
        '  - parcels: ingestion.latency: must be "batch" or "real-time" (got "hourly")',
        '  - parcels: processed: must be "current-state" or "event-log" (got "snapshot")',
      ].join("\n"),
    );
  });

  it("still checks the rules between valid fields when another field is invalid", () => {
    const error = errorOf({
      ...PARCELS,
      description: 42 as never,
      primaryKey: ["tracking_id"],
      consumer: {
        kind: "aggregate",
        name: "daily",
        groupBy: ["carrier"],
        measures: [{ name: "n", fn: "count", description: "n" }],
      },
    });
    expect(error.problems.map((p) => p.field)).toEqual(["description", "primaryKey[0]", "consumer.groupBy[0]"]);
  });

  it("a partition key the contract cannot feed names the environment's key", () => {
    const stream = defineDataset({
      ...PARCELS,
      source: { kind: "kinesis" },
      ingestion: { volumeMb: 10, durationMinutes: 1, latency: "real-time" },
      columns: PARCELS.columns.filter((c) => c.name !== "region"),
    });
    expect(() => new PartitionedDataset(stream, loadEnvironment("prod").partitioning, "prod")).toThrow(
      new ContractError([
        {
          dataset: "parcels",
          field: "columns",
          rule: 'has no column "region", which prod\'s partition key "region" reads',
        },
      ]),
    );
  });
});

describe("a defined contract is resolved", () => {
  it("fills in the zones, the consumer view, the version column and what processed holds", () => {
    const { versionColumn: _version, ...unversioned } = PARCELS;
    const resolved = defineDataset({
      ...unversioned,
      name: "events",
      source: { kind: "kinesis" },
      ingestion: { volumeMb: 10, durationMinutes: 1, latency: "real-time" },
    });
    expect(resolved.zones).toEqual(DEFAULT_DATASET_ZONES);
    expect(resolved.consumer).toEqual({ kind: "curated" });
    expect(resolved.versionColumn).toBe("sent_at");
    expect(resolved.processed).toBe("event-log");
    expect(defineDataset(PARCELS).processed).toBe("current-state");
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it("keeps what a contract declares", () => {
    const resolved = defineDataset({ ...PARCELS, zones: ["raw"], processed: "event-log" });
    expect([resolved.zones, resolved.processed, resolved.versionColumn]).toEqual([["raw"], "event-log", "changed_at"]);
    expect(["raw", "processed", "consumer", "quarantine"].filter((z) => livesIn(resolved, z as never))).toEqual([
      "raw",
    ]);
  });

  it("every platform dataset is resolved (what the modules build from)", () => {
    for (const d of DATASETS) {
      expect(d.zones.length).toBeGreaterThan(0);
      expect(["curated", "aggregate"]).toContain(d.consumer.kind);
      expect(d.versionColumn).toEqual(expect.any(String));
    }
  });
});
