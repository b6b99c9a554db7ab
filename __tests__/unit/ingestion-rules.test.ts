/**
 * The Lambda-vs-Glue decision rules: each dataset declares volume, duration and latency; the engine
 * follows from the first rule that matches; an explicit engine that breaks a rule, or a rule result
 * the platform does not build for the source kind, stops synth naming dataset, field and rule
 * (the synth run itself: __tests__/integration/synth.test.ts).
 */
import {
  ContractError,
  DATASETS,
  decideEngine,
  defineDataset,
  ENGINE_RULES,
  ingestionProblems,
  PartitionedDataset,
  type DatasetContract,
  type Engine,
  type IngestionProfile,
} from "../../datasets";
import { loadEnvironment } from "../../environments";
import { defined } from "../../modules/shared/defined";

describe("the rule table", () => {
  // [volume MB, duration min, latency, complex dependencies, engine, rule]
  const table: [number, number, IngestionProfile["latency"], boolean, Engine, string][] = [
    [10, 1, "batch", false, "lambda", "light"],
    [1023, 14, "batch", false, "lambda", "light"],
    [0, 0, "batch", false, "lambda", "light"],
    [1024, 1, "batch", false, "glue", "heavy"], // 1 GB is not "under 1 GB"
    [10, 15, "batch", false, "glue", "heavy"], // 15 minutes is not "under 15 minutes"
    [5000, 120, "batch", false, "glue", "heavy"],
    [5000, 1, "batch", false, "glue", "heavy"], // over either limit is enough
    [10, 60, "batch", false, "glue", "heavy"],
    [10, 1, "batch", true, "emr", "persistent-cluster"],
    [5000, 120, "batch", true, "emr", "persistent-cluster"],
    [10, 1, "real-time", false, "kinesis", "real-time"],
    [5000, 120, "real-time", false, "kinesis", "real-time"],
    [10, 1, "real-time", true, "kinesis", "real-time"], // latency decides before anything else
  ];

  it.each(table)(
    "volume %p MB, %p min, %s, complex=%p → %s (rule %s)",
    (volumeMb, durationMinutes, latency, complexDependencies, engine, rule) => {
      const decision = decideEngine({ volumeMb, durationMinutes, latency, complexDependencies });
      expect({ engine: decision.engine, rule: decision.rule.id }).toEqual({ engine, rule });
    },
  );

  it("states each rule as the platform guidance does, in order", () => {
    expect(ENGINE_RULES.map((r) => `${r.id}: ${r.description}`)).toEqual([
      "real-time: real-time latency → kinesis",
      "persistent-cluster: a persistent cluster with complex dependencies → emr",
      "light: under 15 minutes and under 1 GB → lambda",
      "heavy: 15 minutes or more, or 1 GB or more → glue",
    ]);
  });
});

describe("the shipped datasets", () => {
  it("get their engine from what they declare", () => {
    const dev = loadEnvironment("dev");
    const engines = Object.fromEntries(
      DATASETS.map((c) => [c.name, new PartitionedDataset(c, dev.partitioning, "dev").engine]),
    );
    expect(engines).toEqual({ orders: "glue", customers: "glue", clickstream: "kinesis", shipments: "lambda" });
  });
});

describe("a declaration that breaks a rule", () => {
  const shipments = defined(
    DATASETS.find((d) => d.name === "shipments"),
    "the shipments dataset",
  );
  const orders = defined(
    DATASETS.find((d) => d.name === "orders"),
    "the orders dataset",
  );
  const redeclare = (base: DatasetContract, ingestion: unknown): DatasetContract =>
    ({ ...base, name: `bad_${base.name}`, ingestion }) as DatasetContract;

  const cases: [string, DatasetContract, string][] = [
    [
      "an explicit engine the rules would not pick",
      redeclare(orders, { volumeMb: 8000, durationMinutes: 40, latency: "batch", engine: "lambda" }),
      'bad_orders: ingestion.engine: "lambda" breaks the rule "15 minutes or more, or 1 GB or more → glue" (declared volumeMb 8000, durationMinutes 40, latency "batch")',
    ],
    [
      "Glue chosen for a light load",
      redeclare(shipments, { volumeMb: 50, durationMinutes: 3, latency: "batch", engine: "glue" }),
      'bad_shipments: ingestion.engine: "glue" breaks the rule "under 15 minutes and under 1 GB → lambda" (declared volumeMb 50, durationMinutes 3, latency "batch")',
    ],
    [
      "an API load too heavy for the Lambda that pages APIs",
      redeclare(shipments, { volumeMb: 4096, durationMinutes: 3, latency: "batch" }),
      'bad_shipments: ingestion: the rule "15 minutes or more, or 1 GB or more → glue" picks glue, but api sources are ingested by lambda only (declared volumeMb 4096, durationMinutes 3, latency "batch"); correct the declaration or add a glue path for api sources',
    ],
    [
      "a real-time database table",
      redeclare(orders, { volumeMb: 10, durationMinutes: 1, latency: "real-time" }),
      'bad_orders: ingestion: the rule "real-time latency → kinesis" picks kinesis, but rds sources are ingested by glue only (declared volumeMb 10, durationMinutes 1, latency "real-time"); correct the declaration or add a kinesis path for rds sources',
    ],
    [
      "no declaration at all",
      redeclare(orders, undefined),
      "bad_orders: ingestion: is required: declare volumeMb, durationMinutes and latency so the engine follows from the rules",
    ],
    [
      "a negative volume and an unknown latency",
      redeclare(orders, { volumeMb: -1, durationMinutes: 40, latency: "hourly" }),
      'bad_orders: ingestion.volumeMb: must be a number ≥ 0 (got -1)\n  - bad_orders: ingestion.latency: must be "batch" or "real-time" (got "hourly")',
    ],
    [
      "an unknown engine",
      redeclare(orders, { volumeMb: 8000, durationMinutes: 40, latency: "batch", engine: "spark" }),
      'bad_orders: ingestion.engine: must be one of lambda, glue, emr, kinesis (got "spark")',
    ],
  ];

  it.each(cases)("%s", (_title, contract, message) => {
    let thrown: unknown;
    try {
      defineDataset(contract);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ContractError);
    const count = message.split("\n").length;
    expect((thrown as Error).message).toBe(
      `Invalid dataset contract ${contract.name} (${count} problem${count === 1 ? "" : "s"}):\n  - ${message}`,
    );
  });

  it("an explicit engine that agrees with the rules is accepted", () => {
    expect(ingestionProblems("rds", { volumeMb: 8000, durationMinutes: 40, latency: "batch", engine: "glue" })).toEqual(
      [],
    );
  });
});
