/**
 * Every Glue extract is started by its own EventBridge Scheduler schedule: Glue StartJobRun through
 * the universal target, on the environment's cadence, with retries and an encrypted dead-letter
 * queue that observability finds and alarms on, under a role that may start only that job. A
 * cadence that fires more often than a contract's declared run fails synth naming env/field/rule.
 */
import { DATASETS, defineDataset } from "../../datasets";
import { ConfigError, loadEnvironment, loadEnvironments } from "../../environments";
import { glueStartJobRunTarget, shortestIntervalMinutes } from "../../modules/ingestion";
import { synthWithIngestion } from "../helpers/pipelines";
import {
  asArray,
  byPath,
  parsePolicy,
  refOf,
  resources,
  type SynthesizedResource,
  type TerraformJson,
} from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

const ref = (r: SynthesizedResource, attr: string) => `${refOf(r)}.${attr}}`;
const byName = (json: TerraformJson, type: string, name: string) => {
  const found = resources(json, type).filter((r) => r.body.name === name);
  if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
  return found[0];
};
/** The role a schedule assumes and its inline policy's statements. */
function roleOf(json: TerraformJson, schedule: SynthesizedResource) {
  const role = defined(
    resources(json, "aws_iam_role").find((r) => ref(r, "arn") === schedule.body.target.role_arn),
    "the schedule's role",
  );
  const policy = defined(
    resources(json, "aws_iam_role_policy").find(
      (p) => p.body.role === ref(role, "id") || p.body.role === ref(role, "name"),
    ),
    "the schedule role's inline policy",
  );
  return {
    role,
    trust: parsePolicy(role.body.assume_role_policy).Statement,
    statements: parsePolicy(policy.body.policy).Statement,
  };
}

describe.each(loadEnvironments().map((config) => [config.name, config] as const))(
  "%s: extract schedules",
  (_env, config) => {
    const { stack, json } = synthWithIngestion(config);
    const extracts = Object.entries(stack.ingestion.glue.jobs).filter(([, jobs]) => jobs.extract);
    const prefix = `dataplat-${config.name}`;
    const ingestionKey = byPath(json, "aws_kms_key", "ingestion/key");

    it("every extract job has exactly one schedule, starting it through Glue StartJobRun on the environment's cadence", () => {
      expect(extracts.length).toBeGreaterThan(0);
      const glueTargets = resources(json, "aws_scheduler_schedule").filter(
        (s) => s.body.target.arn === glueStartJobRunTarget(),
      );
      expect(glueTargets.length).toBe(extracts.length);
      for (const [dataset, jobs] of extracts) {
        const job = defined(jobs.extract, `the ${dataset} extract job`);
        const mine = glueTargets.filter((s) => JSON.parse(s.body.target.input).JobName === job.name);
        expect(mine).toHaveLength(1);
        expect(mine[0].body).toMatchObject({
          name: `${prefix}-${dataset}-extract`,
          schedule_expression: config.ingestion.extracts.schedule,
          schedule_expression_timezone: "UTC",
          flexible_time_window: { mode: "OFF" },
          kms_key_arn: ref(ingestionKey, "arn"),
          target: {
            retry_policy: {
              maximum_retry_attempts: config.ingestion.extracts.retryAttempts,
              maximum_event_age_in_seconds: config.ingestion.extracts.maxEventAgeSeconds,
            },
          },
        });
        expect(JSON.parse(mine[0].body.target.input)).toEqual({ JobName: job.name });
      }
    });

    it("each schedule's role is trusted by Scheduler for this account and may start only its own job, dead-letter only to its own queue", () => {
      for (const [dataset] of extracts) {
        const schedule = byName(json, "aws_scheduler_schedule", `${prefix}-${dataset}-extract`);
        const { trust, statements } = roleOf(json, schedule);
        expect(trust).toEqual([
          {
            Sid: "TrustOneService",
            Effect: "Allow",
            Principal: { Service: "scheduler.amazonaws.com" },
            Action: "sts:AssumeRole",
            Condition: {
              StringEquals: { "aws:SourceAccount": config.accountId },
              ArnLike: {
                "aws:SourceArn": [`arn:aws:scheduler:${config.region}:${config.accountId}:schedule-group/default`],
              },
            },
          },
        ]);
        const job = byName(
          json,
          "aws_glue_job",
          defined(stack.ingestion.glue.jobs[dataset].extract, `the ${dataset} extract job`).name,
        );
        const queue = byName(json, "aws_sqs_queue", `${prefix}-${dataset}-extract-dlq`);
        const actions = statements.flatMap((s) => asArray(s.Action).map((a) => [a, asArray(s.Resource)]));
        expect(actions.filter(([a]) => String(a).startsWith("glue:"))).toEqual([
          ["glue:StartJobRun", [ref(job, "arn")]],
        ]);
        expect(actions.filter(([a]) => String(a).startsWith("sqs:"))).toEqual([
          ["sqs:SendMessage", [ref(queue, "arn")]],
        ]);
        expect(
          statements.every((s) => s.Effect === "Allow" && asArray(s.Action).every((a: string) => !a.includes("*"))),
        ).toBe(true);
        const kms = statements.filter((s) => asArray(s.Action).some((a: string) => a.startsWith("kms:")));
        expect(kms.every((s) => asArray(s.Resource).every((r) => r === ref(ingestionKey, "arn")))).toBe(true);
      }
    });

    it("each schedule's dead-letter queue is encrypted with the ingestion key, TLS-only, kept 14 days, and alarms on its depth", () => {
      for (const [dataset] of extracts) {
        const schedule = byName(json, "aws_scheduler_schedule", `${prefix}-${dataset}-extract`);
        const queue = byName(json, "aws_sqs_queue", `${prefix}-${dataset}-extract-dlq`);
        expect(schedule.body.target.dead_letter_config).toEqual({ arn: ref(queue, "arn") });
        expect(queue.body).toMatchObject({
          kms_master_key_id: ref(ingestionKey, "arn"),
          message_retention_seconds: 14 * 24 * 3600,
        });
        const policy = defined(
          resources(json, "aws_sqs_queue_policy").find((p) => p.body.queue_url === ref(queue, "url")),
          "the queue's policy",
        );
        expect(parsePolicy(policy.body.policy).Statement).toContainEqual(
          expect.objectContaining({
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        );
        const alarms = resources(json, "aws_cloudwatch_metric_alarm").filter(
          (a) => a.body.dimensions?.QueueName === ref(queue, "name"),
        );
        expect(alarms.map((a) => [a.body.namespace, a.body.metric_name, a.body.threshold])).toEqual([
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", config.alarms.deadLetterQueueDepth],
        ]);
      }
    });

    it("the stack outputs each dataset's schedule and dead-letter queue", () => {
      const output = defined(json.output, "the stack outputs").ingestion_extract_schedule_names.value;
      expect(Object.keys(output).sort()).toEqual(extracts.map(([d]) => d).sort());
      for (const [dataset] of extracts) expect(output[dataset].schedule).toBe(`${prefix}-${dataset}-extract`);
    });
  },
);

describe("a new extracted contract", () => {
  const invoices = defineDataset({
    name: "invoices",
    description: "Invoices from the billing database.",
    source: { kind: "rds", table: "billing.invoices" },
    ingestion: { volumeMb: 2000, durationMinutes: 20, latency: "batch" },
    primaryKey: ["invoice_id"],
    eventTimeColumn: "issued_at",
    columns: [
      { name: "invoice_id", type: "string", required: true, description: "Invoice identifier" },
      { name: "region", type: "string", required: true, description: "Region (eu, us, apac)" },
      { name: "issued_at", type: "timestamp", required: true, description: "Issue time (UTC)" },
    ],
  });

  it("gets its schedule, role and dead-letter queue with no other change", () => {
    const { stack, json } = synthWithIngestion(loadEnvironment("prod"), { datasets: [...DATASETS, invoices] });
    const schedule = byName(json, "aws_scheduler_schedule", "dataplat-prod-invoices-extract");
    expect(JSON.parse(schedule.body.target.input)).toEqual({
      JobName: defined(stack.ingestion.glue.jobs.invoices.extract, "the invoices extract job").name,
    });
    expect(schedule.body.target.dead_letter_config.arn).toBe(
      ref(byName(json, "aws_sqs_queue", "dataplat-prod-invoices-extract-dlq"), "arn"),
    );
  });
});

describe("the extract cadence", () => {
  const withExtracts = (extracts: Record<string, unknown>) => {
    const prod = loadEnvironment("prod");
    return { ...prod, ingestion: { ...prod.ingestion, extracts: { ...prod.ingestion.extracts, ...extracts } } };
  };

  it("a schedule firing more often than a contract's declared run fails synth naming environment, field and rule", () => {
    let error: unknown;
    try {
      synthWithIngestion(withExtracts({ schedule: "rate(30 minutes)" }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    // orders declares 40 minutes; customers' 25 fit in 30.
    expect((error as Error).message).toBe(
      "Invalid environment configuration (1 problem):\n" +
        '  - prod: ingestion.extracts.schedule: must leave dataset orders\'s declared run of 40 minutes between starts: it fires every 30 minutes, so each start would find the previous run still going (got "rate(30 minutes)")',
    );
  });

  it("an hourly cron leaves room for every declared run and synthesizes", () => {
    const { json } = synthWithIngestion(withExtracts({ schedule: "cron(5 * * * ? *)" }));
    expect(
      resources(json, "aws_scheduler_schedule").filter((s) => s.body.schedule_expression === "cron(5 * * * ? *)")
        .length,
    ).toBeGreaterThan(0);
  });

  it.each([
    ["rate(1 minute)", 1],
    ["rate(45 minutes)", 45],
    ["rate(2 hours)", 120],
    ["rate(1 day)", 1440],
    ["cron(0 1 * * ? *)", 1440],
    ["cron(5 * * * ? *)", 60],
    ["cron(*/15 * * * ? *)", 15],
    ["cron(0 */6 * * ? *)", 360],
    ["cron(0 1,13 * * ? *)", 720],
    ["cron(0,50 * * * ? *)", 10],
    ["cron(0 9-17 ? * MON-FRI *)", undefined],
  ])("%s fires at most every %s minutes", (expression, minutes) => {
    expect(shortestIntervalMinutes(expression)).toBe(minutes);
  });
});
