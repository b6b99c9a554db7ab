import { DATASETS, PartitionedDataset, defineDataset } from "../../datasets";
import { loadEnvironment } from "../../environments";
import { defined } from "../../modules/shared/defined";

const dev = loadEnvironment("dev");
const prod = loadEnvironment("prod");
const orders = defined(
  DATASETS.find((d) => d.name === "orders"),
  "the orders dataset",
);

describe("consumer views", () => {
  it("an aggregate's table groups by the partition keys plus groupBy, and types its measures", () => {
    const inProd = new PartitionedDataset(orders, prod.partitioning, "prod");
    expect(inProd.consumerTableName).toBe("orders_daily");
    // region is a partition key in prod, so it is not a data column of the table
    expect(inProd.consumerColumns().map((c) => [c.name, c.type])).toEqual([
      ["status", "string"],
      ["currency", "string"],
      ["order_count", "bigint"],
      ["revenue", "decimal(38,2)"],
      ["customer_count", "bigint"],
    ]);
    // in dev (dt only) region stays a data column
    expect(new PartitionedDataset(orders, dev.partitioning, "dev").consumerColumns().map((c) => c.name)[0]).toBe(
      "region",
    );
  });

  it("a curated view keeps the processed columns", () => {
    const clickstream = new PartitionedDataset(
      defined(
        DATASETS.find((d) => d.name === "clickstream"),
        "the clickstream dataset",
      ),
      dev.partitioning,
      "dev",
    );
    expect(clickstream.consumerTableName).toBe("clickstream");
    expect(clickstream.consumerColumns()).toEqual(clickstream.dataColumns);
  });

  it("the job contract carries the environment's partition sources", () => {
    const contract = new PartitionedDataset(orders, prod.partitioning, "prod").jobContract();
    expect(contract.partitioning.keys).toEqual([
      { name: "dt", type: "date", column: "order_ts", rangeStart: "2024-01-01" },
      { name: "region", type: "enum", column: "region", values: ["eu", "us", "apac"] },
    ]);
    expect(contract.versionColumn).toBe("updated_at");
    expect(contract.consumerColumns.map((c) => `${c.name}:${c.type}`)).toEqual([
      "status:string",
      "currency:string",
      "order_count:bigint",
      "revenue:decimal(38,2)",
      "customer_count:bigint",
    ]);
  });

  it("rejects an aggregate over a missing or non-numeric column", () => {
    expect(() =>
      defineDataset({
        ...orders,
        name: "bad_orders",
        consumer: {
          kind: "aggregate",
          name: "daily",
          groupBy: ["nope"],
          measures: [{ name: "total", fn: "sum", column: "status", description: "" }],
        },
      }),
    ).toThrow(
      'Invalid dataset contract bad_orders (2 problems):\n  - bad_orders: consumer.groupBy[0]: "nope" is not a column\n' +
        '  - bad_orders: consumer.measures[0].column: "status" is not numeric (string): sum adds numbers',
    );
  });
});

describe("what processed holds", () => {
  it("defaults to current-state for versioned records, else event-log, and is passed to the jobs", () => {
    expect(new PartitionedDataset(orders, dev.partitioning, "dev").jobContract().processed).toBe("current-state");
    const { versionColumn: _v, processed: _p, ...events } = orders;
    expect(defineDataset({ ...events, name: "events" }).processed).toBe("event-log");
    const clickstream = defined(
      DATASETS.find((d) => d.name === "clickstream"),
      "the clickstream dataset",
    );
    expect(new PartitionedDataset(clickstream, dev.partitioning, "dev").jobContract().processed).toBe("event-log");
  });

  it("every current-state dataset partitions by a time its versions do not change", () => {
    for (const d of DATASETS.filter((x) => x.processed === "current-state")) {
      expect({ name: d.name, partitionTime: d.eventTimeColumn }).not.toEqual({
        name: d.name,
        partitionTime: d.versionColumn,
      });
    }
  });

  it("rejects current-state partitioned by the version column, naming the fix", () => {
    const { versionColumn: _omit, processed: _mode, ...unversioned } = orders;
    const thrown = (() => {
      try {
        defineDataset({ ...unversioned, name: "moving", eventTimeColumn: "updated_at", processed: "current-state" });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(thrown?.name).toBe("ContractError");
    expect(thrown?.message).toContain(
      'moving: processed: "current-state" needs a partition time that versions do not change',
    );
    expect(thrown?.message).toContain('declare processed: "event-log"');
    expect(() =>
      defineDataset({ ...orders, name: "moving", eventTimeColumn: "updated_at", processed: "current-state" }),
    ).toThrow(/needs a partition time/);
    expect(() =>
      defineDataset({ ...unversioned, name: "moving", eventTimeColumn: "updated_at", processed: "event-log" }),
    ).not.toThrow();
  });

  it("rejects an unknown mode", () => {
    expect(() => defineDataset({ ...orders, name: "odd", processed: "snapshot" as never })).toThrow(
      'odd: processed: must be "current-state" or "event-log" (got "snapshot")',
    );
  });
});
