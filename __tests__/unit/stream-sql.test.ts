import {
  ContractError,
  DATASETS,
  DEFAULT_ALLOWED_LATENESS_SECONDS,
  defineDataset,
  PartitionedDataset,
  resolveStreamQueries,
  type DatasetContract,
} from "../../datasets";
import { loadEnvironment } from "../../environments";
import { interval, RUNTIME_OPTIONS, streamSqlJob } from "../../modules/streaming/flink-sql";
import { connectorUrl, jobSpec, streamPackage } from "../../modules/streaming/package";
import { BAD_STREAM_QUERIES } from "../fixtures/bad-stream-queries";
import { defined } from "../../modules/shared/defined";

/** The problems a contract is refused with, each as "<dataset>: <field>: <rule>". */
function problemsOf(contract: DatasetContract): string[] {
  try {
    defineDataset(contract);
  } catch (error) {
    if (error instanceof ContractError) return error.problems.map((p) => `${p.dataset}: ${p.field}: ${p.rule}`);
    throw error;
  }
  throw new Error(`contract ${contract.name} was accepted`);
}

// A contract of the test's own, so the expected SQL does not follow any shipped dataset.
const taps = defineDataset({
  name: "taps",
  description: "Taps on a kiosk",
  source: { kind: "kinesis" },
  ingestion: { volumeMb: 10, durationMinutes: 5, latency: "real-time" },
  primaryKey: ["kiosk", "seq"],
  eventTimeColumn: "tapped_at",
  processed: "event-log",
  columns: [
    { name: "kiosk", type: "string", required: true, description: "Kiosk" },
    { name: "seq", type: "bigint", required: true, description: "Tap number on the kiosk" },
    { name: "region", type: "string", required: true, description: "Region" },
    { name: "card", type: "string", description: "Card, when one was shown" },
    { name: "amount", type: "decimal(10,2)", description: "Amount" },
    { name: "tapped_at", type: "timestamp", required: true, description: "When" },
  ],
  streamQueries: {
    queries: [
      {
        name: "per_kiosk_10s",
        description: "Taps per kiosk every 10 seconds",
        window: { kind: "tumbling", sizeSeconds: 10 },
        groupBy: ["kiosk"],
        measures: [
          { name: "taps", fn: "count", description: "Taps" },
          { name: "largest", fn: "max", column: "amount", description: "Largest amount" },
        ],
      },
      {
        name: "cards_2h",
        description: "Distinct cards per region over two hours, every 15 minutes",
        window: { kind: "hopping", sizeSeconds: 7200, slideSeconds: 900 },
        groupBy: ["region"],
        measures: [{ name: "cards", fn: "count_distinct", column: "card", description: "Cards" }],
      },
    ],
  },
});

const prod = loadEnvironment("prod");
const dev = loadEnvironment("dev");

describe("stream query declarations", () => {
  it("apply the documented default lateness", () => {
    expect(defined(resolveStreamQueries(taps), "the resolved stream queries").allowedLatenessSeconds).toBe(
      DEFAULT_ALLOWED_LATENESS_SECONDS,
    );
    expect(DEFAULT_ALLOWED_LATENESS_SECONDS).toBe(30);
  });

  it("are declared by the shipped real-time contract: two queries, one tumbling and one hopping", () => {
    const declared = DATASETS.filter((d) => d.streamQueries);
    expect(declared.length).toBeGreaterThan(0);
    for (const d of declared) expect(d.source.kind).toBe("kinesis");
    const kinds = declared.flatMap((d) =>
      defined(d.streamQueries, `${d.name}'s stream queries`).queries.map((q) => q.window.kind),
    );
    expect(kinds).toEqual(expect.arrayContaining(["tumbling", "hopping"]));
  });

  it("the corpus has a case per rule, each a different error", () => {
    expect(BAD_STREAM_QUERIES.length).toBeGreaterThanOrEqual(10);
    expect(new Set(BAD_STREAM_QUERIES.map(([title]) => title)).size).toBe(BAD_STREAM_QUERIES.length);
    expect(new Set(BAD_STREAM_QUERIES.map(([, , error]) => error)).size).toBe(BAD_STREAM_QUERIES.length);
  });

  it.each(BAD_STREAM_QUERIES)(
    "fails on %s, naming the contract, the query and the problem",
    (_title, contract, error) => {
      expect(problemsOf(contract)).toEqual([error]);
    },
  );

  it("lists every problem of a contract in one message", () => {
    const bad = {
      ...taps,
      name: "taps_bad",
      streamQueries: {
        queries: [{ ...defined(taps.streamQueries, "the taps stream queries").queries[0], groupBy: ["x", "y"] }],
      },
    } as DatasetContract;
    expect(problemsOf(bad)).toEqual([
      'taps_bad: streamQueries: stream query "per_kiosk_10s": groupBy column "x" is not a column of the contract',
      'taps_bad: streamQueries: stream query "per_kiosk_10s": groupBy column "y" is not a column of the contract',
    ]);
  });
});

describe("the Flink SQL generator", () => {
  const job = defined(streamSqlJob(new PartitionedDataset(taps, prod.partitioning, "prod")), "the taps stream SQL job");

  it("declares the source with a watermark the lateness behind the event time", () => {
    expect(job.sourceDdl({ connector: "kinesis", "stream.arn": "arn:x" })).toBe(
      [
        "CREATE TABLE `stream_events` (",
        "  `kiosk` STRING,",
        "  `seq` BIGINT,",
        "  `region` STRING,",
        "  `card` STRING,",
        "  `amount` DECIMAL(10, 2),",
        "  `tapped_at` TIMESTAMP_LTZ(3),",
        "  `_rowtime` AS COALESCE(`tapped_at`, TO_TIMESTAMP_LTZ(0, 3)),",
        "  WATERMARK FOR `_rowtime` AS `_rowtime` - INTERVAL '30' SECOND",
        ") WITH (",
        "  'connector' = 'kinesis',",
        "  'format' = 'json',",
        "  'json.ignore-parse-errors' = 'true',",
        "  'json.timestamp-format.standard' = 'ISO-8601',",
        "  'stream.arn' = 'arn:x'",
        ")",
      ].join("\n"),
    );
    expect(job.sourceDdl(RUNTIME_OPTIONS)).toContain("WITH (\n  {{connector_options}}\n  'format' = 'json',");
  });

  it("passes on only what the batch pipeline would accept: parsed time in range, required values, allowed enum values", () => {
    expect(job.acceptedView).toBe(
      [
        "CREATE TEMPORARY VIEW `accepted_events` AS",
        "SELECT * FROM `stream_events`",
        "WHERE `tapped_at` IS NOT NULL",
        "  AND `tapped_at` >= TO_TIMESTAMP_LTZ(1704067200000, 3)",
        "  AND `kiosk` IS NOT NULL",
        "  AND `seq` IS NOT NULL",
        "  AND `region` IS NOT NULL",
        "  AND `region` IN ('eu', 'us', 'apac')",
      ].join("\n"),
    );
  });

  it("writes a tumbling window aggregate that counts each key once (redelivery does not double count)", () => {
    expect(job.queries[0].select).toBe(
      [
        "SELECT",
        "  window_start,",
        "  window_end,",
        "  `kiosk`,",
        "  COUNT(DISTINCT CONCAT_WS('\u001f', CAST(`kiosk` AS STRING), CAST(`seq` AS STRING))) AS `taps`,",
        "  MAX(`amount`) AS `largest`",
        "FROM TABLE(TUMBLE(TABLE `accepted_events`, DESCRIPTOR(`_rowtime`), INTERVAL '10' SECOND))",
        "GROUP BY window_start, window_end, `kiosk`",
      ].join("\n"),
    );
    expect(job.queries[0].columns.map((c) => `${c.name} ${c.glueType}`)).toEqual([
      "window_start timestamp",
      "window_end timestamp",
      "kiosk string",
      "taps bigint",
      "largest decimal(10,2)",
    ]);
  });

  it("writes a hopping window with slide before size, partitioned by day and by the enum key it groups by", () => {
    const hop = job.queries[1];
    expect(hop.select).toContain(
      "FROM TABLE(HOP(TABLE `accepted_events`, DESCRIPTOR(`_rowtime`), INTERVAL '15' MINUTE, INTERVAL '2' HOUR))",
    );
    expect(hop.partitionKeys.map((k) => k.name)).toEqual(["dt", "region"]);
    expect(hop.columns.map((c) => c.name)).toEqual(["window_start", "window_end", "cards"]);
    expect(hop.insert).toContain(
      "SELECT `window_start`, `window_end`, `cards`, DATE_FORMAT(window_start, 'yyyy-MM-dd') AS `dt`, `region`\nFROM (",
    );
    // A query that does not group by the enum key is partitioned by day only.
    expect(job.queries[0].partitionKeys.map((k) => k.name)).toEqual(["dt"]);
    expect(job.queries[0].table).toBe("taps_per_kiosk_10s");
  });

  it("follows the environment's partition spec (dev: days only, no enum filter)", () => {
    const devJob = defined(
      streamSqlJob(new PartitionedDataset(taps, dev.partitioning, "dev")),
      "the taps stream SQL job (dev)",
    );
    expect(devJob.queries[1].partitionKeys.map((k) => k.name)).toEqual(["dt"]);
    expect(devJob.acceptedView).not.toContain(" IN (");
  });

  it("writes intervals Flink's two-digit leading fields accept", () => {
    expect(interval(30)).toBe("INTERVAL '30' SECOND");
    expect(interval(300)).toBe("INTERVAL '5' MINUTE");
    expect(interval(7200)).toBe("INTERVAL '2' HOUR");
    expect(interval(150)).toBe("INTERVAL '0:02:30' HOUR TO SECOND");
    expect(interval(86_400)).toBe("INTERVAL '24' HOUR");
    expect(() => interval(1.5)).toThrow("whole number");
  });

  it("is deterministic, and gives nothing for a contract without stream queries", () => {
    const again = defined(
      streamSqlJob(new PartitionedDataset(taps, prod.partitioning, "prod")),
      "the taps stream SQL job",
    );
    expect(JSON.stringify(jobSpec(new PartitionedDataset(taps, prod.partitioning, "prod")))).toBe(
      JSON.stringify(jobSpec(new PartitionedDataset(taps, prod.partitioning, "prod"))),
    );
    expect(again.queries.map((q) => q.insert)).toEqual(job.queries.map((q) => q.insert));
    const batch = defined(
      DATASETS.find((d) => !d.streamQueries),
      "a batch dataset",
    );
    expect(streamSqlJob(new PartitionedDataset(batch, prod.partitioning, "prod"))).toBeUndefined();
  });
});

describe("the application package", () => {
  const dataset = new PartitionedDataset(taps, prod.partitioning, "prod");

  it("is addressed by a content hash of its code, its job and the connector's pin, without the jar", () => {
    const pkg = defined(streamPackage(dataset), "the dataset's stream package");
    expect(pkg.contentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(pkg.relativePath).toBe(`stream-sql-packages/${pkg.contentHash}/taps.zip`);
    expect(pkg.jarName).toBe("flink-sql-connector-kinesis-5.0.0-1.20.jar");
    expect(connectorUrl(pkg.pin, "https://mirror.example/maven2/")).toBe(
      "https://mirror.example/maven2/org/apache/flink/flink-sql-connector-kinesis/5.0.0-1.20/flink-sql-connector-kinesis-5.0.0-1.20.jar",
    );
    // Another job gives another hash: a changed declaration ships a new package.
    const other = defineDataset({
      ...taps,
      streamQueries: {
        allowedLatenessSeconds: 5,
        queries: defined(taps.streamQueries, "the taps stream queries").queries,
      },
    });
    expect(
      defined(streamPackage(new PartitionedDataset(other, prod.partitioning, "prod")), "the other stream package")
        .contentHash,
    ).not.toBe(pkg.contentHash);
  });
});
