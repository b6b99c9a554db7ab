import { DATASETS, PartitionedDataset, defineDataset } from "../../datasets";
import { loadEnvironments } from "../../environments";
import { PartitionLayout } from "../../datasets";
import { defined } from "../../modules/shared/defined";

/** Evaluates the tiny JQ subset Firehose queries use here: `{k: .field[a:b], k2: .field}`. */
function evalFirehoseQuery(query: string, record: Record<string, string>): Record<string, string> {
  const body = query.replace(/^\{|\}$/g, "");
  return Object.fromEntries(
    body.split(", ").map((part) => {
      const [key, expr] = part.split(": ");
      const m = defined(/^\.(\w+)(?:\[(\d+):(\d+)\])?$/.exec(expr), `a match of the partition expression ${expr}`);
      const value = record[m[1]];
      return [key, m[2] ? value.slice(Number(m[2]), Number(m[3])) : value];
    }),
  );
}

/** Fills `${key}` (Terraform-escaped as `$${key}`) placeholders the way Athena does. */
function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\$\$\{(\w+)\}/g, (_m, key) => values[key]);
}

describe.each(loadEnvironments().map((e) => [e.name, e] as const))(
  "%s: one partition spec, every consumer agrees",
  (_env, config) => {
    const layout = new PartitionLayout(config.partitioning);

    it.each(DATASETS.map((d) => [d.name, d] as const))("%s", (_name, contract) => {
      const dataset = new PartitionedDataset(contract, config.partitioning, config.name);
      const record: Record<string, string> = { [contract.eventTimeColumn]: "2024-05-01T13:45:00Z", region: "eu" };
      const values = Object.fromEntries(
        layout
          .sources(contract.eventTimeColumn)
          .map((s) => [
            s.name,
            s.type === "date"
              ? record[s.column].slice(0, 10)
              : s.type === "hour"
                ? record[s.column].slice(11, 13)
                : record[s.column],
          ]),
      );
      const path = layout.path(values);
      expect(path).toBe(config.partitioning.keys.map((k) => `${k.name}=${values[k.name]}/`).join(""));

      // Glue table: partition keys and projection template
      expect(layout.glueColumns().map((c) => c.name)).toEqual(layout.names);
      const location = `s3://bucket/${dataset.prefix}`;
      const projection = layout.projectionParameters(location);
      expect(fillTemplate(projection["storage.location.template"], values)).toBe(`${location}${path}`);
      for (const name of layout.names) expect(projection[`projection.${name}.type`]).toBeDefined();

      // Firehose: prefix filled from the JQ query over the same record
      const fromQuery = evalFirehoseQuery(layout.firehoseQuery(contract.eventTimeColumn), record);
      expect(fromQuery).toEqual(values);
      expect(
        layout.firehosePrefix(dataset.prefix).replace(/!\{partitionKeyFromQuery:(\w+)\}/g, (_m, k) => fromQuery[k]),
      ).toBe(`${dataset.prefix}${path}`);

      // Spark: partitionBy columns, in order
      expect(JSON.parse(dataset.sparkSpec()).keys.map((k: { name: string }) => k.name)).toEqual(layout.names);

      // Athena: the one-day predicate constrains the date key
      expect(layout.athenaPredicate("2024-05-01")).toBe(`${layout.dateKey.name} = '2024-05-01'`);

      // Data files never repeat a partition column
      expect(dataset.dataColumns.map((c) => c.name).filter((n) => layout.names.includes(n))).toEqual([]);
    });
  },
);

describe("partition projection", () => {
  const layout = new PartitionLayout({
    keys: [
      { name: "dt", type: "date", format: "yyyy-MM-dd", rangeStart: "2024-01-01" },
      { name: "hour", type: "hour" },
      { name: "region", type: "enum", values: ["eu", "us"] },
    ],
  });

  it("writes every key's projection and escapes the location template for Terraform JSON", () => {
    expect(layout.projectionParameters("s3://${aws_s3_bucket.processed.bucket}/orders")).toEqual({
      "projection.enabled": "true",
      "projection.dt.type": "date",
      "projection.dt.format": "yyyy-MM-dd",
      "projection.dt.range": "2024-01-01,NOW",
      "projection.dt.interval": "1",
      "projection.dt.interval.unit": "DAYS",
      "projection.hour.type": "integer",
      "projection.hour.range": "0,23",
      "projection.hour.digits": "2",
      "projection.region.type": "enum",
      "projection.region.values": "eu,us",
      // the bucket reference stays an interpolation; the placeholders are escaped
      "storage.location.template":
        "s3://${aws_s3_bucket.processed.bucket}/orders/dt=$${dt}/hour=$${hour}/region=$${region}/",
    });
  });

  it("refuses a path with a missing value", () => {
    expect(() => layout.path({ dt: "2024-05-01" })).toThrow(
      'partition value for "hour" is missing (keys: dt, hour, region)',
    );
  });
});

describe("dataset contracts", () => {
  const column = { name: "id", type: "string", required: true, description: "id" } as const;
  const ts = { name: "ts", type: "timestamp", required: true, description: "time" } as const;
  const stream = { volumeMb: 10, durationMinutes: 1, latency: "real-time" } as const;

  it("reject a contract whose primary key or event time is not a required column", () => {
    expect(() =>
      defineDataset({
        name: "bad",
        description: "",
        source: { kind: "kinesis" },
        ingestion: stream,
        primaryKey: ["nope"],
        eventTimeColumn: "id",
        columns: [column],
      }),
    ).toThrow(
      'Invalid dataset contract bad (2 problems):\n  - bad: primaryKey[0]: "nope" is not a column\n  - bad: eventTimeColumn: "id" must be a timestamp column (got string)',
    );
  });

  it("reject a dataset that lacks the column an enum partition key reads", () => {
    const contract = defineDataset({
      name: "events",
      description: "",
      source: { kind: "kinesis" },
      ingestion: stream,
      primaryKey: ["id"],
      eventTimeColumn: "ts",
      columns: [column, ts],
    });
    const prod = defined(
      loadEnvironments().find((e) => e.name === "prod"),
      "the prod environment",
    );
    expect(() => new PartitionedDataset(contract, prod.partitioning, "prod")).toThrow(
      'events: columns: has no column "region", which prod\'s partition key "region" reads',
    );
  });

  it("reject a data column that clashes with a derived partition key", () => {
    const contract = defineDataset({
      name: "events",
      description: "",
      source: { kind: "kinesis" },
      ingestion: stream,
      primaryKey: ["id"],
      eventTimeColumn: "ts",
      columns: [column, ts, { name: "dt", type: "string", description: "clash" }],
    });
    const dev = defined(
      loadEnvironments().find((e) => e.name === "dev"),
      "the dev environment",
    );
    expect(() => new PartitionedDataset(contract, dev.partitioning, "dev")).toThrow(
      `events: columns[2].name: "dt" clashes with dev's derived partition key "dt"`,
    );
  });
});
