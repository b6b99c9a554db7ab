/**
 * Observability is discovered from the stack: every Lambda, Glue job, state machine, dead-letter
 * queue, Firehose and Kinesis stream in an environment's synthesized JSON has its alarms, with
 * that environment's thresholds, whichever module created the resource and whenever it was added.
 *
 * Dead-letter queues are identified here from the JSON itself (queues named in a redrive policy
 * or dead-letter config), independently of the module's discovery code.
 */
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { App, TerraformStack, Testing } from "cdktf";
import { Construct } from "constructs";
import { loadEnvironment, loadEnvironments, type EnvironmentConfig } from "../../environments";
import { Observability } from "../../modules/observability";
import { PlatformStack } from "../../modules/platform-stack";
import { Naming } from "../../modules/shared/naming";
import { synthWithIngestion } from "../helpers/pipelines";
import { asArray, parsePolicy, refOf, resources, type SynthesizedResource, type TerraformJson } from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

const environments = loadEnvironments().map((config) => ({ config, ...synthWithIngestion(config) }));
const byName = (name: string) =>
  defined(
    environments.find((e) => e.config.name === name),
    `the ${name} stack`,
  );

/** Alarms whose dimension `key` is a reference to `attr` of resource `r`. */
function alarmsOn(json: TerraformJson, r: SynthesizedResource, key: string, attr: string): SynthesizedResource[] {
  return resources(json, "aws_cloudwatch_metric_alarm").filter(
    (a) => a.body.dimensions?.[key] === `${refOf(r)}.${attr}}`,
  );
}

/** Queues some resource names as its dead-letter target, read straight from the JSON. */
function deadLetterQueues(json: TerraformJson): SynthesizedResource[] {
  const targets = new Set<string>();
  const add = (arn: unknown) => typeof arn === "string" && targets.add(arn);
  for (const q of resources(json, "aws_sqs_queue"))
    if (q.body.redrive_policy) add(JSON.parse(q.body.redrive_policy).deadLetterTargetArn);
  for (const s of resources(json, "aws_sns_topic_subscription"))
    if (s.body.redrive_policy) add(JSON.parse(s.body.redrive_policy).deadLetterTargetArn);
  for (const t of resources(json, "aws_cloudwatch_event_target")) add(t.body.dead_letter_config?.arn);
  for (const f of resources(json, "aws_lambda_function")) add(f.body.dead_letter_config?.target_arn);
  for (const c of resources(json, "aws_lambda_function_event_invoke_config"))
    add(c.body.destination_config?.on_failure?.destination);
  for (const s of resources(json, "aws_scheduler_schedule")) add(s.body.target?.dead_letter_config?.arn);
  return resources(json, "aws_sqs_queue").filter((q) => targets.has(`${refOf(q)}.arn}`));
}

const thresholds = (alarms: SynthesizedResource[]) =>
  Object.fromEntries(alarms.map((a) => [a.body.metric_name, a.body.threshold]));

describe.each(environments.map((e) => [e.config.name, e] as const))("%s: alarms", (_env, { config, json, stack }) => {
  const alarms = resources(json, "aws_cloudwatch_metric_alarm");
  const a = config.alarms;

  it("every alarm is evaluated with the environment's period, evaluation periods and datapoints, above its threshold", () => {
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) {
      expect(alarm.body).toMatchObject({
        period: a.periodSeconds,
        evaluation_periods: a.evaluationPeriods,
        datapoints_to_alarm: a.datapointsToAlarm,
        comparison_operator: "GreaterThanThreshold",
        treat_missing_data: "notBreaching",
      });
      expect(alarm.body.alarm_name).toMatch(new RegExp(`^dataplat-${config.name}-`));
      expect(alarm.body.tags?.environment).toBe(config.name);
    }
    expect(new Set(alarms.map((x) => x.body.alarm_name)).size).toBe(alarms.length);
  });

  it("every Lambda: errors, throttles and p99 duration at the configured share of its own timeout", () => {
    const functions = resources(json, "aws_lambda_function");
    expect(functions.length).toBe(Object.keys(stack.ingestion.apiFunctions).length);
    for (const fn of functions) {
      const own = alarmsOn(json, fn, "FunctionName", "function_name");
      const timeoutMs = (fn.body.timeout ?? 3) * 1000;
      expect(thresholds(own)).toEqual({
        Errors: a.lambdaErrors,
        Throttles: a.lambdaThrottles,
        Duration: (timeoutMs * a.lambdaDurationPercentOfTimeout) / 100,
      });
      expect(
        defined(
          own.find((x) => x.body.metric_name === "Duration"),
          "the function's Duration alarm",
        ).body.extended_statistic,
      ).toBe("p99");
      expect(own.filter((x) => x.body.metric_name !== "Duration").every((x) => x.body.statistic === "Sum")).toBe(true);
    }
    // (That each function's duration threshold follows its own timeout: see "per-function thresholds" below.)
  });

  it("every Glue job: failed runs counted by a rule matching that job's FAILED, TIMEOUT and ERROR states", () => {
    const jobs = resources(json, "aws_glue_job");
    const built = Object.values(stack.ingestion.glue.jobs).flatMap((j) =>
      [j.extract, j.rawToProcessed, j.processedToConsumer].filter(Boolean),
    );
    expect(jobs.length).toBe(built.length); // every job ingestion built: transforms per dataset plus the extracts
    const rules = resources(json, "aws_cloudwatch_event_rule");
    for (const job of jobs) {
      const matching = rules.filter((r) => {
        const pattern = JSON.parse(r.body.event_pattern);
        return (
          pattern.source?.[0] === "aws.glue" &&
          JSON.stringify(pattern.detail?.jobName) === JSON.stringify([`${refOf(job)}.name}`])
        );
      });
      expect(matching).toHaveLength(1);
      const rule = matching[0];
      expect(JSON.parse(rule.body.event_pattern)).toEqual({
        source: ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        detail: { jobName: [`${refOf(job)}.name}`], state: ["FAILED", "TIMEOUT", "ERROR"] },
      });
      const own = alarmsOn(json, rule, "RuleName", "name");
      expect(own.map((x) => [x.body.namespace, x.body.metric_name, x.body.statistic, x.body.threshold])).toEqual([
        ["AWS/Events", "TriggeredRules", "Sum", a.glueJobFailures],
      ]);
      expect(own[0].body.alarm_name).toBe(`${job.body.name}-failures`);
    }
  });

  it("every state machine: failed and timed-out executions", () => {
    const machines = resources(json, "aws_sfn_state_machine");
    expect(machines.length).toBe(4);
    for (const sm of machines) {
      expect(thresholds(alarmsOn(json, sm, "StateMachineArn", "arn"))).toEqual({
        ExecutionsFailed: a.stateMachineFailures,
        ExecutionsTimedOut: a.stateMachineFailures,
      });
    }
  });

  it("every dead-letter queue (whoever created it) alarms on its depth; no other queue does", () => {
    const dlqs = deadLetterQueues(json);
    // A trigger DLQ per pipeline, 2 subscribers, EventBridge → SNS deliveries, the API path's DLQ, one per extract schedule.
    const extractSchedules = Object.values(stack.ingestion.extractSchedules);
    expect(extractSchedules.length).toBeGreaterThan(0);
    expect(dlqs.length).toBe(Object.keys(stack.orchestration.pipelines).length + 4 + extractSchedules.length);
    expect(dlqs.map((q) => q.body.name)).toContain(`dataplat-${config.name}-ingest-dlq`);
    for (const s of extractSchedules) expect(dlqs.map((q) => q.body.name)).toContain(s.deadLetter.queueName);
    for (const q of dlqs) {
      const own = alarmsOn(json, q, "QueueName", "name");
      expect(own.map((x) => [x.body.namespace, x.body.metric_name, x.body.statistic, x.body.threshold])).toEqual([
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", a.deadLetterQueueDepth],
      ]);
    }
    const others = resources(json, "aws_sqs_queue").filter((q) => !dlqs.some((d) => d.name === q.name));
    expect(others.length).toBeGreaterThan(0);
    for (const q of others) expect(alarmsOn(json, q, "QueueName", "name")).toEqual([]);
  });

  it("Firehose data freshness and Kinesis iterator age", () => {
    const [firehose] = resources(json, "aws_kinesis_firehose_delivery_stream");
    expect(thresholds(alarmsOn(json, firehose, "DeliveryStreamName", "name"))).toEqual({
      "DeliveryToS3.DataFreshness": a.firehoseFreshnessSeconds,
    });
    const [stream] = resources(json, "aws_kinesis_stream");
    expect(thresholds(alarmsOn(json, stream, "StreamName", "name"))).toEqual({
      "GetRecords.IteratorAgeMilliseconds": a.kinesisIteratorAgeMs,
    });
  });

  it(
    config.alarms.notify === "page"
      ? "pages: every alarm and recovery goes to the on-call topic"
      : "records only: no alarm has an action",
    () => {
      const [alerts] = resources(json, "aws_sns_topic").filter((t) => t.body.name === `dataplat-${config.name}-alerts`);
      for (const alarm of alarms) {
        if (config.alarms.notify === "page") {
          expect(alarm.body.alarm_actions).toEqual([`${refOf(alerts)}.arn}`]);
          expect(alarm.body.ok_actions).toEqual([`${refOf(alerts)}.arn}`]);
        } else {
          expect(alarm.body.alarm_actions).toBeUndefined();
          expect(alarm.body.ok_actions).toBeUndefined();
        }
      }
    },
  );
});

describe("prod and dev differ as configured", () => {
  const dev = byName("dev");
  const prod = byName("prod");
  const alarmNamed = (e: typeof dev, suffix: string) =>
    defined(
      resources(e.json, "aws_cloudwatch_metric_alarm").find(
        (x) => x.body.alarm_name === `dataplat-${e.config.name}-${suffix}`,
      ),
      `the alarm dataplat-${e.config.name}-${suffix}`,
    ).body;

  it("the configs differ in notify, period, evaluation, duration share, freshness and iterator age", () => {
    for (const field of [
      "notify",
      "periodSeconds",
      "evaluationPeriods",
      "datapointsToAlarm",
      "lambdaDurationPercentOfTimeout",
      "firehoseFreshnessSeconds",
      "kinesisIteratorAgeMs",
    ] as const) {
      expect(prod.config.alarms[field]).not.toEqual(dev.config.alarms[field]);
    }
  });

  it.each([
    ["ingest-shipments-duration", "lambdaDurationPercentOfTimeout"],
    ["clickstream-freshness", "firehoseFreshnessSeconds"],
    ["clickstream-iterator-age", "kinesisIteratorAgeMs"],
  ] as const)("%s: each environment's alarm follows its own %s", (suffix, field) => {
    const [d, p] = [alarmNamed(dev, suffix), alarmNamed(prod, suffix)];
    expect(d.threshold).not.toBe(p.threshold);
    if (field === "lambdaDurationPercentOfTimeout") {
      expect(d.threshold).toBe((dev.config.ingestion.api.timeoutSeconds * 1000 * dev.config.alarms[field]) / 100);
      expect(p.threshold).toBe((prod.config.ingestion.api.timeoutSeconds * 1000 * prod.config.alarms[field]) / 100);
    } else {
      expect(d.threshold).toBe(dev.config.alarms[field]);
      expect(p.threshold).toBe(prod.config.alarms[field]);
    }
    expect([d.period, d.evaluation_periods, d.datapoints_to_alarm]).toEqual([
      dev.config.alarms.periodSeconds,
      dev.config.alarms.evaluationPeriods,
      dev.config.alarms.datapointsToAlarm,
    ]);
    expect([p.period, p.evaluation_periods, p.datapoints_to_alarm]).toEqual([
      prod.config.alarms.periodSeconds,
      prod.config.alarms.evaluationPeriods,
      prod.config.alarms.datapointsToAlarm,
    ]);
    expect(p.alarm_actions).toHaveLength(1);
    expect(d.alarm_actions).toBeUndefined();
  });
});

describe.each(environments.map((e) => [e.config.name, e] as const))("%s: logs", (_env, { config, json }) => {
  const key = defined(
    resources(json, "aws_kms_key").find((k) => k.name.startsWith("observability_logs-key")),
    "the observability logs key",
  );

  const groups = resources(json, "aws_cloudwatch_log_group");
  /** Log groups whose module brought no key of its own: observability encrypts them with the logs key. */
  const withLogsKey = groups.filter((g) => g.body.kms_key_id === `${refOf(key)}.arn}`);

  it("every log group keeps the environment's retention and is encrypted: with the logs key, or a key its module brought", () => {
    expect(groups.length).toBeGreaterThan(0);
    expect(withLogsKey.length).toBeGreaterThan(0);
    const keys = new Set(resources(json, "aws_kms_key").map((k) => `${refOf(k)}.arn}`));
    for (const g of groups) {
      expect(g.body.retention_in_days).toBe(config.logs.retentionDays);
      expect(keys.has(g.body.kms_key_id)).toBe(true);
    }
  });

  it("a module's own log-group key lets CloudWatch Logs use it for its groups", () => {
    for (const g of groups.filter((x) => !withLogsKey.includes(x))) {
      const own = defined(
        resources(json, "aws_kms_key").find((k) => `${refOf(k)}.arn}` === g.body.kms_key_id),
        "the log group's key",
      );
      const logs = parsePolicy(own.body.policy).Statement.find(
        (s) => s.Principal?.Service === `logs.${config.region}.amazonaws.com`,
      );
      expect(logs).toBeDefined();
    }
  });

  it("a Lambda without a log group gets /aws/lambda/<name>, created before the function", () => {
    for (const fn of resources(json, "aws_lambda_function")) {
      const group = groups.find((g) => g.body.name === `/aws/lambda/${fn.body.function_name}`);
      expect(group).toBeDefined();
      expect(fn.body.depends_on).toContain(
        `aws_cloudwatch_log_group.${defined(group, `the log group /aws/lambda/${fn.body.function_name}`).name}`,
      );
    }
  });

  it("the logs key lets CloudWatch Logs use it for exactly those log groups", () => {
    const statements = parsePolicy(key.body.policy).Statement;
    const logs = statements.find((s) => s.Principal?.Service === `logs.${config.region}.amazonaws.com`);
    const arns = withLogsKey.map((g) => `arn:aws:logs:${config.region}:${config.accountId}:log-group:${g.body.name}`);
    expect(asArray(logs.Condition.ArnEquals["kms:EncryptionContext:aws:logs:arn"]).sort()).toEqual(arns.sort());
    expect(logs.Action).not.toContain("kms:*");
  });
});

describe.each(environments.map((e) => [e.config.name, e] as const))("%s: dashboard", (_env, { config, json }) => {
  const dashboards = resources(json, "aws_cloudwatch_dashboard");
  const body = JSON.parse(dashboards[0].body.dashboard_body);
  const text = dashboards[0].body.dashboard_body as string;

  it("one dashboard per environment, in the environment's region and period", () => {
    expect(dashboards.map((d) => d.body.dashboard_name)).toEqual([`dataplat-${config.name}-pipeline`]);
    const metricWidgets = body.widgets.filter((w: { type: string }) => w.type === "metric");
    expect(metricWidgets.length).toBeGreaterThan(0);
    for (const w of metricWidgets)
      expect(w.properties).toMatchObject({ region: config.region, period: config.alarms.periodSeconds });
  });

  it("covers the pipeline end to end: every function, stream, pipeline, job, dead-letter queue and alarm", () => {
    const refs = (type: string, attr: string) => resources(json, type).map((r) => `${refOf(r)}.${attr}}`);
    for (const ref of [
      ...refs("aws_lambda_function", "function_name"),
      ...refs("aws_kinesis_stream", "name"),
      ...refs("aws_kinesis_firehose_delivery_stream", "name"),
      ...refs("aws_sfn_state_machine", "arn"),
      ...deadLetterQueues(json).map((q) => `${refOf(q)}.name}`),
      ...refs("aws_cloudwatch_metric_alarm", "arn"),
    ]) {
      expect(text).toContain(ref);
    }
    const sections = body.widgets
      .filter((w: { type: string }) => w.type === "text")
      .map((w: { properties: { markdown: string } }) => w.properties.markdown.split("\n")[0]);
    const order = [
      "## Ingestion",
      "## Landing and triggers",
      "## Pipelines",
      "## Glue jobs",
      "## Dead-letter queues",
      "## Alarms",
    ];
    const found = order.map((h) => sections.findIndex((s: string) => s.startsWith(h)));
    expect(found.every((i) => i >= 0)).toBe(true);
    expect([...found].sort((x, y) => x - y)).toEqual(found); // in the order data flows
  });
});

describe("discovery", () => {
  function standalone(config: EnvironmentConfig, build: (stack: TerraformStack) => void, onCall = true) {
    const stack = new TerraformStack(Testing.app(), "s");
    const naming = new Naming({
      project: "dataplat",
      environment: config.name,
      accountId: config.accountId,
      region: config.region,
    });
    const observability = new Observability(stack, "observability", {
      naming,
      accountId: defined(config.accountId, "the environment's account id"),
      region: config.region,
      alarms: config.alarms,
      logRetentionDays: config.logs.retentionDays,
    });
    if (onCall) observability.notifyOnCall({ arn: "arn:aws:sns:eu-west-1:333333333333:oncall" });
    build(stack);
    return { observability, json: JSON.parse(Testing.synth(stack)) as TerraformJson };
  }

  it("finds resources added anywhere in the stack after observability was created, at synth", () => {
    const { observability, json } = standalone(loadEnvironment("dev"), (stack) => {
      new LambdaFunction(stack, "late", {
        functionName: "late-fn",
        role: "arn:aws:iam::111111111111:role/r",
        runtime: "nodejs20.x",
        handler: "i.h",
        s3Bucket: "b",
        s3Key: "k",
        timeout: 10,
      });
    });
    expect(
      resources(json, "aws_cloudwatch_metric_alarm")
        .map((x) => x.body.alarm_name)
        .sort(),
    ).toEqual(["dataplat-dev-late-fn-duration", "dataplat-dev-late-fn-errors", "dataplat-dev-late-fn-throttles"]);
    expect(observability.resources.lambdaFunctions).toHaveLength(1);
  });

  it("a queue named by a Lambda's dead-letter config is a dead-letter queue; an unreferenced one is not", () => {
    const { json } = standalone(loadEnvironment("dev"), (stack) => {
      const dlq = new SqsQueue(stack, "dlq", { name: "fn-dlq" });
      new SqsQueue(stack, "work", { name: "work" });
      new LambdaFunction(stack, "fn", {
        functionName: "fn",
        role: "arn:aws:iam::111111111111:role/r",
        runtime: "nodejs20.x",
        handler: "i.h",
        s3Bucket: "b",
        s3Key: "k",
        deadLetterConfig: { targetArn: dlq.arn },
      });
    });
    const depth = resources(json, "aws_cloudwatch_metric_alarm").filter(
      (x) => x.body.metric_name === "ApproximateNumberOfMessagesVisible",
    );
    expect(depth.map((x) => x.body.alarm_name)).toEqual(["dataplat-dev-fn-dlq-depth"]);
  });

  it("a log group a module configured itself keeps its retention and key", () => {
    const { json } = standalone(loadEnvironment("dev"), (stack) => {
      new CloudwatchLogGroup(stack, "audit", {
        name: "/audit",
        retentionInDays: 3653,
        kmsKeyId: "arn:aws:kms:eu-west-1:111111111111:key/own",
      });
    });
    expect(resources(json, "aws_cloudwatch_log_group")[0].body).toMatchObject({
      retention_in_days: 3653,
      kms_key_id: "arn:aws:kms:eu-west-1:111111111111:key/own",
    });
  });

  it("a module's own log group named after the function is not duplicated; the key policy covers its computed name by its literal start", () => {
    const { json, observability } = standalone(loadEnvironment("dev"), (stack) => {
      const fn = new LambdaFunction(stack, "fn", {
        functionName: "dataplat-dev-api",
        role: "arn:aws:iam::111111111111:role/r",
        runtime: "nodejs20.x",
        handler: "i.h",
        s3Bucket: "b",
        s3Key: "k",
      });
      new CloudwatchLogGroup(stack, "fn-logs", { name: `/aws/lambda/${fn.functionName}` });
    });
    expect(observability.lambdaLogGroups).toEqual([]);
    const [group] = resources(json, "aws_cloudwatch_log_group");
    expect(group.body).toMatchObject({
      retention_in_days: 14,
      kms_key_id: expect.stringContaining("aws_kms_key.observability_logs-key"),
    });
    const key = resources(json, "aws_kms_key")[0];
    const logs = parsePolicy(key.body.policy).Statement.find(
      (st) => st.Principal?.Service === "logs.eu-west-1.amazonaws.com",
    );
    expect(logs.Condition).toEqual({
      ArnLike: {
        "kms:EncryptionContext:aws:logs:arn": ["arn:aws:logs:eu-west-1:111111111111:log-group:/aws/lambda/*"],
      },
    });
  });

  it("a function logging to a group its module names by reference gets no extra group", () => {
    const { observability } = standalone(loadEnvironment("dev"), (stack) => {
      const group = new CloudwatchLogGroup(stack, "shared", { name: "/platform/ingest" });
      new LambdaFunction(stack, "fn", {
        functionName: "f",
        role: "arn:aws:iam::111111111111:role/r",
        runtime: "nodejs20.x",
        handler: "i.h",
        s3Bucket: "b",
        s3Key: "k",
        loggingConfig: { logFormat: "JSON", logGroup: group.name },
      });
    });
    expect(observability.lambdaLogGroups).toEqual([]);
  });

  it("a paging environment without an on-call topic fails at synth", () => {
    expect(() => standalone(loadEnvironment("prod"), () => undefined, false)).toThrow(
      'observability: alarms.notify is "page" but no on-call topic was given (call notifyOnCall(topic))',
    );
  });

  it("synthesizes the same alarms when the app is synthesized twice (the aspect runs once)", () => {
    const app = new App({ outdir: Testing.app().outdir });
    const stack = new TerraformStack(app, "twice");
    const config = loadEnvironment("dev");
    new Observability(stack, "o", {
      naming: new Naming({ project: "p", environment: "dev", region: "eu-west-1" }),
      accountId: "111111111111",
      region: "eu-west-1",
      alarms: config.alarms,
      logRetentionDays: 14,
    });
    new SqsQueue(stack, "dlq", { name: "d" });
    new SqsQueue(stack, "q", { name: "q", redrivePolicy: "{}" });
    const first = Testing.synth(stack);
    expect(Testing.synth(stack)).toBe(first);
  });
});

describe("per-function thresholds", () => {
  it("each Lambda's duration alarm follows its own timeout (3 s default included)", () => {
    const config = defined(
      loadEnvironments().find((e) => e.name === "dev"),
      "the dev environment",
    );
    const stack = new PlatformStack(Testing.app(), config);
    const scope = new Construct(stack, "extra-functions");
    for (const [name, timeout] of [
      ["paginate", 60],
      ["default-timeout", undefined],
    ] as const) {
      new LambdaFunction(scope, name, {
        functionName: stack.naming.name(name),
        role: `arn:aws:iam::${config.accountId}:role/any`,
        runtime: "nodejs20.x",
        handler: "index.handler",
        s3Bucket: "artifacts",
        s3Key: "fn.zip",
        timeout,
      });
    }
    const json: TerraformJson = JSON.parse(Testing.synth(stack));
    const durations = Object.fromEntries(
      resources(json, "aws_lambda_function").map((fn) => [
        fn.body.function_name,
        defined(
          alarmsOn(json, fn, "FunctionName", "function_name").find((a) => a.body.metric_name === "Duration"),
          "the function's Duration alarm",
        ).body.threshold,
      ]),
    );
    const pct = config.alarms.lambdaDurationPercentOfTimeout / 100;
    expect(durations).toEqual({
      [stack.naming.name("ingest", "shipments")]: config.ingestion.api.timeoutSeconds * 1000 * pct,
      [stack.naming.name("paginate")]: 60_000 * pct,
      [stack.naming.name("default-timeout")]: 3_000 * pct,
    });
  });
});
