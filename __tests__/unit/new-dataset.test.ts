/**
 * A dataset is added in one place: a new contract passed to the stack yields its tables, its
 * crawler target, its named query (and, where QuickSight is on, its dataset) with no other edit.
 */
import { DATASETS, defineDataset } from "../../datasets";
import { loadEnvironment } from "../../environments";
import { byPath, parsePolicy, refOf, resources, synthEnvironment, synthNamed, TerraformJson } from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

const returns = defineDataset({
  name: "returns",
  description: "Parcels sent back by customers, from the carrier's returns API.",
  source: {
    kind: "api",
    path: "/v1/returns",
    incremental: { kind: "full", reason: "the returns API offers no change filter" },
  },
  ingestion: { volumeMb: 5, durationMinutes: 1, latency: "batch" },
  primaryKey: ["return_id"],
  eventTimeColumn: "returned_at",
  consumer: {
    kind: "aggregate",
    name: "daily",
    groupBy: ["region", "reason"],
    measures: [
      { name: "return_count", fn: "count", description: "Parcels returned" },
      { name: "refunded", fn: "sum", column: "refund", description: "Sum of refunds" },
    ],
  },
  columns: [
    { name: "return_id", type: "string", required: true, description: "Return identifier" },
    { name: "order_id", type: "string", required: true, description: "Order the parcel belonged to" },
    { name: "reason", type: "string", required: true, description: "damaged, wrong_item, unwanted" },
    { name: "region", type: "string", required: true, description: "Region (eu, us, apac)" },
    { name: "refund", type: "decimal(12,2)", required: true, description: "Amount refunded" },
    {
      name: "returned_at",
      type: "timestamp",
      required: true,
      description: "When the carrier received the parcel (UTC)",
    },
  ],
});

const counts = (json: TerraformJson) =>
  Object.fromEntries(
    ["aws_glue_catalog_table", "aws_glue_crawler", "aws_athena_named_query", "aws_quicksight_data_set"].map((t) => [
      t,
      resources(json, t).length,
    ]),
  );

describe.each(["dev", "prod"])("%s: adding the returns contract", (name) => {
  const config = loadEnvironment(name);
  const before = synthNamed(name).json;
  const json = synthEnvironment(config, { datasets: [...DATASETS, returns] });

  it("adds exactly its two tables, one crawler, one named query (and a QuickSight dataset where QuickSight is on)", () => {
    const expected = counts(before);
    expected.aws_glue_catalog_table += 2;
    expected.aws_glue_crawler += 1;
    expected.aws_athena_named_query += 1;
    if (config.quicksight.enabled) expected.aws_quicksight_data_set += 1;
    expect(counts(json)).toEqual(expected);
    expect(resources(before, "aws_glue_catalog_table").map((t) => t.body.name)).not.toContain("returns");
  });

  it("its processed and consumer tables follow the environment's partition spec", () => {
    const keys = config.partitioning.keys.map((k) => k.name);
    const processed = byPath(json, "aws_glue_catalog_table", "catalog/returns-processed").body;
    const consumer = byPath(json, "aws_glue_catalog_table", "catalog/returns-consumer").body;
    expect([processed.name, consumer.name]).toEqual(["returns", "returns_daily"]);
    for (const table of [processed, consumer]) {
      expect(table.partition_keys.map((k: { name: string }) => k.name)).toEqual(keys);
      expect(table.parameters["storage.location.template"]).toMatch(
        new RegExp(`/returns/${keys.map((k) => `${k}=\\$\\$\\{${k}\\}/`).join("")}$`),
      );
    }
  });

  it("its crawler targets its raw folder, and the crawler role may read that folder", () => {
    const crawler = byPath(json, "aws_glue_crawler", "catalog/returns-crawler").body;
    const raw = refOf(byPath(json, "aws_s3_bucket", "lake/raw/bucket"));
    expect(crawler.s3_target).toEqual([expect.objectContaining({ path: `s3://${raw}.bucket}/returns/` })]);
    expect(defined(json.output, "the stack outputs").catalog_crawler_names.value.returns).toBe(
      `\${${"aws_glue_crawler"}.${byPath(json, "aws_glue_crawler", "catalog/returns-crawler").name}.name}`,
    );
    const statements = parsePolicy(
      byPath(json, "aws_iam_role_policy", "catalog/crawler-role/policy").body.policy,
    ).Statement;
    expect(statements).toContainEqual({
      Sid: "RawReturnsRead",
      Effect: "Allow",
      Action: "s3:GetObject",
      Resource: `${raw}.arn}/returns/*`,
    });
  });

  it("its ingestion follows from its declaration: an api-ingest function on the schedule for its API path, and its Glue jobs", () => {
    const fn = byPath(json, "aws_lambda_function", "ingestion/api-returns/function").body;
    expect(fn.function_name).toBe(`dataplat-${name}-ingest-returns`);
    expect(fn.environment.variables.API_URL).toBe(new URL("/v1/returns", config.ingestion.api.baseUrl).toString());
    // The same zip as every other API dataset's function: one artifact.
    expect(fn.filename).toBe(byPath(json, "aws_lambda_function", "ingestion/api-shipments/function").body.filename);
    expect(byPath(json, "aws_scheduler_schedule", "ingestion/api-returns/schedule").body.schedule_expression).toBe(
      config.ingestion.api.schedule,
    );
    const jobs = resources(json, "aws_glue_job")
      .map((j) => j.body.name)
      .filter((n: string) => n.includes("-returns-"));
    expect(jobs.sort()).toEqual([
      `dataplat-${name}-returns-processed-to-consumer`,
      `dataplat-${name}-returns-raw-to-processed`,
    ]);
    expect(resources(before, "aws_lambda_function")).toHaveLength(1);
  });

  it("its named query reads one day of returns_daily", () => {
    const query = byPath(json, "aws_athena_named_query", "analytics/athena/returns-query").body;
    expect(query.name).toBe("returns_daily-one-day");
    expect(query.query).toContain(`FROM "dataplat_${name}_consumer"."returns_daily"`);
    expect(query.query).toContain("WHERE dt = '2024-01-01'");
  });
});
