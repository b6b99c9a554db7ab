/**
 * Orchestration: each dataset's state machine (typed ASL, validated by asl-validator), its
 * event-driven trigger, and the messaging around it, read from every environment's synthesized
 * JSON with real Glue jobs standing in for the ingestion module's.
 */
import aslValidator from "asl-validator";
import { Testing } from "cdktf";
import { loadEnvironments } from "../../environments";
import {
  CRAWLER_BUSY_ERRORS,
  JOB_BUSY_ERRORS,
  PIPELINE_SUCCEEDED,
  StateMachineBuilder,
  STEPS,
  transitionsOf,
  type State,
  type StateMachineDefinition,
  type TaskState,
} from "../../modules/orchestration";
import { GlueJob } from "@cdktf/provider-aws/lib/glue-job";
import { Orchestration } from "../../modules/orchestration";
import { PlatformStack } from "../../modules/platform-stack";
import { synthWithIngestion } from "../helpers/pipelines";
import { asArray, parsePolicy, refOf, resources, type SynthesizedResource, type TerraformJson } from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

const environments = loadEnvironments().map((config) => ({ config, ...synthWithIngestion(config) }));

const definitionOf = (sm: SynthesizedResource): StateMachineDefinition => JSON.parse(sm.body.definition);
const tasks = (d: StateMachineDefinition) =>
  Object.entries(d.States).filter((e): e is [string, TaskState] => e[1].Type === "Task");
const byName = (json: TerraformJson, type: string, name: string) =>
  defined(
    resources(json, type).find((r) => r.body.name === name),
    `the ${type} named ${name}`,
  );

/** States reachable from `from` (following Next, Default, Choices and Catch). */
function reachable(d: StateMachineDefinition, from: string): Set<string> {
  const seen = new Set<string>();
  const queue = [from];
  while (queue.length) {
    const s = defined(queue.shift(), "the next queued state");
    if (seen.has(s)) continue;
    seen.add(s);
    queue.push(...transitionsOf(d.States[s]));
  }
  return seen;
}

describe.each(environments.map((e) => [e.config.name, e] as const))("%s: pipelines", (_env, { config, json }) => {
  const machines = resources(json, "aws_sfn_state_machine");
  const alerts = byName(json, "aws_sns_topic", `dataplat-${config.name}-alerts`);

  it("one Standard state machine per dataset, named for it", () => {
    expect(machines.map((m) => m.body.name).sort()).toEqual(
      ["clickstream", "customers", "orders", "shipments"].map((d) => `dataplat-${config.name}-${d}-pipeline`),
    );
    for (const m of machines) expect(m.body.type).toBe("STANDARD");
  });

  it.each(["clickstream", "customers", "orders", "shipments"])("%s: the definition passes asl-validator", (dataset) => {
    const definition = definitionOf(
      byName(json, "aws_sfn_state_machine", `dataplat-${config.name}-${dataset}-pipeline`),
    );
    const { isValid, errorsText } = aslValidator(definition);
    expect(errorsText("\n")).toBe("");
    expect(isValid).toBe(true);
  });

  it("writes the run's manifest, runs raw → processed (.sync), then the raw crawler, then processed → consumer (.sync), then a success event", () => {
    for (const m of machines) {
      const d = definitionOf(m);
      const dataset = m.body.name.replace(`dataplat-${config.name}-`, "").replace("-pipeline", "");
      const job = (step: "raw-to-processed" | "processed-to-consumer") =>
        `${refOf(byName(json, "aws_glue_job", `dataplat-${config.name}-${dataset}-${step}`))}.name}`;
      const crawler = `${refOf(byName(json, "aws_glue_crawler", `dataplat-${config.name}-raw-${dataset}`))}.name}`;
      const rawToProcessed = d.States[STEPS.rawToProcessed] as TaskState;
      expect(rawToProcessed).toMatchObject({
        Resource: "arn:aws:states:::glue:startJobRun.sync",
        Parameters: { JobName: job("raw-to-processed") },
        Next: STEPS.startCrawler,
      });
      expect(d.States[STEPS.startCrawler]).toMatchObject({
        Resource: "arn:aws:states:::aws-sdk:glue:startCrawler",
        Parameters: { Name: crawler },
      });
      expect(d.States[STEPS.getCrawler]).toMatchObject({
        Resource: "arn:aws:states:::aws-sdk:glue:getCrawler",
        Parameters: { Name: crawler },
      });
      expect(d.States[STEPS.processedToConsumer]).toMatchObject({
        Resource: "arn:aws:states:::glue:startJobRun.sync",
        Parameters: { JobName: job("processed-to-consumer") },
        Next: STEPS.publishSucceeded,
      });
      const publish = d.States[STEPS.publishSucceeded] as TaskState;
      expect(publish.Resource).toBe("arn:aws:states:::events:putEvents");
      expect(publish.Parameters).toMatchObject({
        Entries: [{ Source: `dataplat-${config.name}.pipelines`, DetailType: PIPELINE_SUCCEEDED, Detail: { dataset } }],
      });
      // The happy path: Start → ... → Succeeded passes every step in order.
      expect(d.States.Start).toMatchObject({ Type: "Pass", Next: STEPS.writeManifest });
      expect(d.States[STEPS.writeManifest]).toMatchObject({
        Resource: "arn:aws:states:::aws-sdk:s3:putObject",
        Next: STEPS.rawToProcessed,
      });
      const order = [
        "Start",
        STEPS.writeManifest,
        STEPS.rawToProcessed,
        STEPS.startCrawler,
        STEPS.getCrawler,
        STEPS.processedToConsumer,
        STEPS.publishSucceeded,
        "Succeeded",
      ];
      for (let i = 1; i < order.length; i++) expect(reachable(d, order[i - 1]).has(order[i])).toBe(true);
      expect(reachable(d, STEPS.processedToConsumer).has(STEPS.rawToProcessed)).toBe(false);
      expect(d.TimeoutSeconds).toBe(config.orchestration.executionTimeoutMinutes * 60);
    }
  });

  it("the errors an AWS SDK task retries are named as Step Functions names them: <Service>.<Error>Exception", () => {
    // Step Functions' AWS SDK integrations report "<ServiceName>.<ErrorName>", both Pascal case, the error
    // always ending in "Exception" even where the service's API reference leaves it off (S3's
    // BucketAlreadyExists is S3.BucketAlreadyExistsException). A name off that form never matches: the
    // Retry would silently never fire. Services named here as the developer guide spells them.
    const serviceNames: Record<string, string> = { s3: "S3", glue: "Glue" };
    let checked = 0;
    for (const m of machines) {
      for (const [name, task] of tasks(definitionOf(m))) {
        const sdk = /^arn:aws:states:::aws-sdk:([a-z0-9]+):[A-Za-z0-9]+$/.exec(task.Resource);
        if (!sdk) continue;
        const service = serviceNames[sdk[1]];
        if (!service)
          throw new Error(`${name} calls aws-sdk:${sdk[1]}: add its Step Functions service name to this test`);
        for (const error of task.Retry.flatMap((r) => r.ErrorEquals)) {
          expect(error).toMatch(new RegExp(`^${service}\\.[A-Z][A-Za-z0-9]*Exception$`));
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it("every Task has Retry with backoff for transient errors and a Catch that records the failure and alerts through SNS", () => {
    for (const m of machines) {
      const d = definitionOf(m);
      expect(tasks(d).length).toBeGreaterThanOrEqual(6);
      for (const [name, task] of tasks(d)) {
        expect(task.Retry.length).toBeGreaterThan(0);
        for (const r of task.Retry) {
          expect(r.ErrorEquals.length).toBeGreaterThan(0);
          expect(r.ErrorEquals).not.toContain("States.ALL"); // retries are for named transient errors only
          expect(r.IntervalSeconds).toBeGreaterThan(0);
          expect(r.BackoffRate).toBeGreaterThan(1);
          expect(r.MaxAttempts).toBeGreaterThan(1);
        }
        expect(task.Catch.map((c) => c.ErrorEquals)).toEqual([["States.ALL"]]);
        if (name === STEPS.notifyFailure) {
          // The alert itself failing still fails the execution (and the failed-executions alarm sees it).
          expect(task.Catch[0].Next).toBe(STEPS.failed);
          continue;
        }
        // The catch records { step, error, cause } and reaches the SNS alert, then fails the execution.
        const record = d.States[task.Catch[0].Next] as State & { Parameters: Record<string, string> };
        expect(task.Catch[0].ResultPath).toBe("$.failure");
        expect(record).toMatchObject({ Type: "Pass", ResultPath: "$.failure", Next: STEPS.notifyFailure });
        expect(Object.keys(record.Parameters).sort()).toEqual(["cause.$", "error.$", "step"]);
      }
      const notify = d.States[STEPS.notifyFailure] as TaskState;
      expect(notify).toMatchObject({ Resource: "arn:aws:states:::sns:publish", Next: STEPS.failed });
      expect(defined(notify.Parameters, "the notify-failure task's parameters").TopicArn).toBe(`${refOf(alerts)}.arn}`);
      expect(d.States[STEPS.failed]).toMatchObject({ Type: "Fail", Error: "PipelineFailed" });
    }
  });

  it("never overlaps a job: each Glue task waits (retries) while another run holds the job, whose one slot the jobs keep", () => {
    for (const m of machines) {
      const d = definitionOf(m);
      for (const step of [STEPS.rawToProcessed, STEPS.processedToConsumer]) {
        const busy = (d.States[step] as TaskState).Retry[0];
        expect(busy.ErrorEquals).toEqual([...JOB_BUSY_ERRORS]);
        expect(
          defined(busy.MaxAttempts, "the busy retry's MaxAttempts") *
            defined(busy.MaxDelaySeconds, "the busy retry's MaxDelaySeconds"),
        ).toBeGreaterThanOrEqual(3600); // long enough for a running job to finish
      }
    }
    for (const job of resources(json, "aws_glue_job"))
      expect(job.body.execution_property?.max_concurrent_runs ?? 1).toBe(1);
  });

  it('a crawler that is "already running" is retried as an error, never taken as success', () => {
    for (const m of machines) {
      const d = definitionOf(m);
      const start = d.States[STEPS.startCrawler] as TaskState;
      expect(start.Retry[0].ErrorEquals).toEqual([...CRAWLER_BUSY_ERRORS]);
      expect(start.ResultPath).toBeNull();
      // Nothing catches CrawlerRunningException towards the consumer job: only States.ALL, to the failure record.
      expect(reachable(d, start.Catch[0].Next).has(STEPS.processedToConsumer)).toBe(false);
      // The consumer job runs only once the crawler is READY again and its last crawl SUCCEEDED.
      const routes = Object.entries(d.States)
        .filter(([, s]) => s.Type === "Choice")
        .flatMap(([name, s]) => (s.Type === "Choice" ? s.Choices.map((c) => ({ from: name, ...c })) : []));
      const intoConsumer = Object.entries(d.States)
        .filter(([, s]) => transitionsOf(s).includes(STEPS.processedToConsumer))
        .map(([name]) => name);
      expect(intoConsumer).toEqual(["CrawlSucceeded"]);
      expect(routes.filter((c) => c.Next === "CrawlSucceeded")).toEqual([
        {
          from: "CrawlSucceeded?",
          Variable: "$.crawl.Crawler.LastCrawl.Status",
          StringEquals: "SUCCEEDED",
          Next: "CrawlSucceeded",
        },
      ]);
      expect(routes.filter((c) => c.Next === "CrawlSucceeded?")).toEqual([
        { from: "CrawlFinished?", Variable: "$.crawl.Crawler.State", StringEquals: "READY", Next: "CrawlSucceeded?" },
      ]);
    }
  });

  it(`logs every execution to its own log group${config.orchestration.logExecutionData ? " with execution data" : " without execution data"}, and traces with X-Ray`, () => {
    for (const m of machines) {
      const group = byName(json, "aws_cloudwatch_log_group", `/aws/vendedlogs/states/${m.body.name}`);
      expect(m.body.logging_configuration).toEqual({
        level: "ALL",
        include_execution_data: config.orchestration.logExecutionData,
        log_destination: `${refOf(group)}.arn}:*`,
      });
      expect(m.body.tracing_configuration).toEqual({ enabled: true });
      expect(group.body.retention_in_days).toBe(config.logs.retentionDays);
    }
  });

  it("each role runs only its own dataset's jobs and crawler, publishes only its success event, and is trusted for its own state machine", () => {
    for (const m of machines) {
      const dataset = m.body.name.replace(`dataplat-${config.name}-`, "").replace("-pipeline", "");
      const role = defined(
        resources(json, "aws_iam_role").find((r) => m.body.role_arn === `${refOf(r)}.arn}`),
        "the state machine's role",
      );
      const trust = parsePolicy(role.body.assume_role_policy).Statement[0];
      expect(trust.Principal).toEqual({ Service: "states.amazonaws.com" });
      expect(trust.Condition).toEqual({
        StringEquals: { "aws:SourceAccount": config.accountId },
        ArnLike: {
          "aws:SourceArn": [`arn:aws:states:${config.region}:${config.accountId}:stateMachine:${m.body.name}`],
        },
      });
      const policy = defined(
        resources(json, "aws_iam_role_policy").find((p) => p.body.role === `${refOf(role)}.id}`),
        "the state machine role's inline policy",
      );
      const statements = parsePolicy(policy.body.policy).Statement;
      const sid = (s: string) => statements.find((x) => x.Sid === s);
      const jobArn = (step: string) =>
        `${refOf(byName(json, "aws_glue_job", `dataplat-${config.name}-${dataset}-${step}`))}.arn}`;
      expect(asArray(sid("RunTheDatasetsJobs").Resource)).toEqual([
        jobArn("raw-to-processed"),
        jobArn("processed-to-consumer"),
      ]);
      expect(asArray(sid("CrawlTheRawFolder").Resource)).toEqual([
        `${refOf(byName(json, "aws_glue_crawler", `dataplat-${config.name}-raw-${dataset}`))}.arn}`,
      ]);
      expect(sid("PublishTheSuccessEvent").Condition).toEqual({
        StringEquals: { "events:source": `dataplat-${config.name}.pipelines` },
      });
      for (const s of statements)
        expect(asArray(s.Action).every((a: string) => a !== "*" && !a.endsWith(":*"))).toBe(true);
    }
  });
});

describe.each(environments.map((e) => [e.config.name, e] as const))("%s: triggers", (_env, { config, json }) => {
  const raw = defined(
    resources(json, "aws_s3_bucket").find(
      (b) => b.body.bucket === `dataplat-${config.name}-raw-${config.accountId}-${config.region}`,
    ),
    "the raw bucket",
  );
  const rules = resources(json, "aws_cloudwatch_event_rule").filter((r) => r.body.name.endsWith("-raw-created"));
  const { batching } = config.orchestration;

  it("one rule per dataset on the raw bucket's Object Created events under the dataset's prefix", () => {
    expect(rules.map((r) => JSON.parse(r.body.event_pattern))).toEqual(
      ["clickstream", "customers", "orders", "shipments"].map((dataset) => ({
        source: ["aws.s3"],
        "detail-type": ["Object Created"],
        detail: { bucket: { name: [raw.body.bucket] }, object: { key: [{ prefix: `${dataset}/` }] } },
      })),
    );
    // The lake sends the raw zone's object events to EventBridge.
    expect(
      defined(
        resources(json, "aws_s3_bucket_notification").find((n) => n.body.bucket === `${refOf(raw)}.id}`),
        "the raw bucket's notification",
      ).body.eventbridge,
    ).toBe(true);
  });

  if (batching.enabled) {
    it(`buffers landings in SQS and starts one execution per batch of up to ${batching.batchSize} (window ${batching.windowSeconds} s)`, () => {
      const pipes = resources(json, "aws_pipes_pipe");
      expect(pipes).toHaveLength(4);
      for (const rule of rules) {
        const dataset = rule.body.name.replace(`dataplat-${config.name}-`, "").replace("-raw-created", "");
        const targets = resources(json, "aws_cloudwatch_event_target").filter(
          (t) => t.body.rule === `${refOf(rule)}.name}`,
        );
        const buffer = byName(json, "aws_sqs_queue", `dataplat-${config.name}-${dataset}-landed`);
        const dlq = byName(json, "aws_sqs_queue", `dataplat-${config.name}-${dataset}-landed-dlq`);
        expect(targets.map((t) => [t.body.arn, t.body.dead_letter_config])).toEqual([
          [`${refOf(buffer)}.arn}`, { arn: `${refOf(dlq)}.arn}` }],
        ]);
        const pipe = defined(
          pipes.find((p) => p.body.source === `${refOf(buffer)}.arn}`),
          "the buffer queue's pipe",
        );
        const machine = byName(json, "aws_sfn_state_machine", `dataplat-${config.name}-${dataset}-pipeline`);
        expect(pipe.body).toMatchObject({
          target: `${refOf(machine)}.arn}`,
          source_parameters: {
            sqs_queue_parameters: {
              batch_size: batching.batchSize,
              maximum_batching_window_in_seconds: batching.windowSeconds,
            },
          },
          target_parameters: { step_function_state_machine_parameters: { invocation_type: "FIRE_AND_FORGET" } },
        });
        // The buffer hides a message for the whole window, so no event is batched twice.
        expect(buffer.body.visibility_timeout_seconds).toBeGreaterThan(batching.windowSeconds);
        expect(JSON.parse(buffer.body.redrive_policy)).toEqual({
          deadLetterTargetArn: `${refOf(dlq)}.arn}`,
          maxReceiveCount: config.orchestration.maxReceiveCount,
        });
      }
    });
  } else {
    it("without batching, each rule starts its pipeline directly (one execution per object) and says why in the outputs", () => {
      expect(resources(json, "aws_pipes_pipe")).toEqual([]);
      for (const rule of rules) {
        const dataset = rule.body.name.replace(`dataplat-${config.name}-`, "").replace("-raw-created", "");
        const [target] = resources(json, "aws_cloudwatch_event_target").filter(
          (t) => t.body.rule === `${refOf(rule)}.name}`,
        );
        const machine = byName(json, "aws_sfn_state_machine", `dataplat-${config.name}-${dataset}-pipeline`);
        const dlq = byName(json, "aws_sqs_queue", `dataplat-${config.name}-${dataset}-trigger-dlq`);
        expect(target.body).toMatchObject({
          arn: `${refOf(machine)}.arn}`,
          dead_letter_config: { arn: `${refOf(dlq)}.arn}` },
        });
        expect(target.body.role_arn).toBeDefined();
      }
      expect(defined(json.output, "the stack outputs").platform_disabled_features.value.pipelineBatching).toBe(
        batching.disabledReason,
      );
    });
  }

  it("routes pipeline success events and the pipeline jobs' state changes to the pipeline-events topic", () => {
    const topic = byName(json, "aws_sns_topic", `dataplat-${config.name}-pipeline-events`);
    const success = byName(json, "aws_cloudwatch_event_rule", `dataplat-${config.name}-pipeline-succeeded`);
    expect(JSON.parse(success.body.event_pattern)).toEqual({
      source: [`dataplat-${config.name}.pipelines`],
      "detail-type": [PIPELINE_SUCCEEDED],
    });
    const glue = byName(json, "aws_cloudwatch_event_rule", `dataplat-${config.name}-glue-job-state`);
    const pattern = JSON.parse(glue.body.event_pattern);
    expect(pattern).toMatchObject({ source: ["aws.glue"], "detail-type": ["Glue Job State Change"] });
    expect(pattern.detail.jobName).toHaveLength(8);
    for (const rule of [success, glue]) {
      const [target] = resources(json, "aws_cloudwatch_event_target").filter(
        (t) => t.body.rule === `${refOf(rule)}.name}`,
      );
      expect(target.body.arn).toBe(`${refOf(topic)}.arn}`);
      expect(target.body.dead_letter_config.arn).toBe(
        `${refOf(byName(json, "aws_sqs_queue", `dataplat-${config.name}-event-delivery-dlq`))}.arn}`,
      );
    }
  });
});

describe.each(environments.map((e) => [e.config.name, e] as const))("%s: messaging", (_env, { config, json }) => {
  const key = defined(
    resources(json, "aws_kms_key").find((k) => k.name.startsWith("orchestration_key")),
    "the orchestration key",
  );
  const prefix = `dataplat-${config.name}`;

  it("topics and queues are encrypted with the messaging key", () => {
    for (const t of resources(json, "aws_sns_topic")) expect(t.body.kms_master_key_id).toBe(`${refOf(key)}.arn}`);
    // (ingestion's dead-letter queues, the API path's and the extract schedules', use ingestion's key)
    const own = resources(json, "aws_sqs_queue").filter((x) => x.name.startsWith("orchestration_"));
    expect(own.length).toBeGreaterThan(0);
    for (const q of own) {
      expect(q.body.kms_master_key_id).toBe(`${refOf(key)}.arn}`);
    }
  });

  it("only our EventBridge rules, our CloudWatch alarms and the pipeline roles may publish; everyone else is denied", () => {
    const topic = byName(json, "aws_sns_topic", `${prefix}-alerts`);
    const policy = parsePolicy(
      defined(
        resources(json, "aws_sns_topic_policy").find((p) => p.body.arn === `${refOf(topic)}.arn}`),
        "the topic's policy",
      ).body.policy,
    );
    const allow = policy.Statement.filter((s) => s.Effect === "Allow");
    const services = allow.filter((s) => s.Principal.Service).map((s) => [s.Principal.Service, s.Condition]);
    expect(services).toEqual([
      [
        "cloudwatch.amazonaws.com",
        {
          StringEquals: { "aws:SourceAccount": config.accountId },
          ArnLike: { "aws:SourceArn": `arn:aws:cloudwatch:${config.region}:${config.accountId}:alarm:${prefix}-*` },
        },
      ],
      [
        "events.amazonaws.com",
        {
          StringEquals: { "aws:SourceAccount": config.accountId },
          ArnLike: { "aws:SourceArn": `arn:aws:events:${config.region}:${config.accountId}:rule/${prefix}-*` },
        },
      ],
    ]);
    const roles = allow.filter((s) => s.Principal.AWS).map((s) => s.Principal.AWS);
    const pipelineRoles = resources(json, "aws_sfn_state_machine").map((m) => m.body.role_arn);
    expect(roles.sort()).toEqual(pipelineRoles.sort());
    const deny = policy.Statement.find((s) => s.Sid === "DenyOtherPublishers");
    expect(deny).toMatchObject({ Effect: "Deny", Principal: "*", Action: "sns:Publish" });
    expect(deny.Condition.StringNotEqualsIfExists["aws:PrincipalServiceName"]).toEqual([
      "cloudwatch.amazonaws.com",
      "events.amazonaws.com",
    ]);
    expect([...deny.Condition.ArnNotEqualsIfExists["aws:PrincipalArn"]].sort()).toEqual(pipelineRoles.sort());
  });

  it("the messaging key lets only those services use it, each pinned to our account and resources", () => {
    const services = parsePolicy(key.body.policy).Statement.filter((s) => s.Principal.Service);
    expect(
      services.map((s) => [
        s.Principal.Service,
        s.Condition.ArnLike["aws:SourceArn"],
        s.Condition.StringEquals["aws:SourceAccount"],
      ]),
    ).toEqual([
      [
        "events.amazonaws.com",
        `arn:aws:events:${config.region}:${config.accountId}:rule/${prefix}-*`,
        config.accountId,
      ],
      [
        "cloudwatch.amazonaws.com",
        `arn:aws:cloudwatch:${config.region}:${config.accountId}:alarm:${prefix}-*`,
        config.accountId,
      ],
      ["sns.amazonaws.com", `arn:aws:sns:${config.region}:${config.accountId}:${prefix}-*`, config.accountId],
    ]);
  });

  it.each([
    ["pipeline-events", "pipeline-events"],
    ["alerts-log", "alerts"],
  ])(
    "subscriber %s fans out from the %s topic, accepts only it, and has a DLQ for failed consumers and undeliverable messages",
    (name, topicName) => {
      const topic = byName(json, "aws_sns_topic", `${prefix}-${topicName}`);
      const queue = byName(json, "aws_sqs_queue", `${prefix}-${name}`);
      const dlq = byName(json, "aws_sqs_queue", `${prefix}-${name}-dlq`);
      const subscription = defined(
        resources(json, "aws_sns_topic_subscription").find((s) => s.body.endpoint === `${refOf(queue)}.arn}`),
        "the queue's topic subscription",
      );
      expect(subscription.body).toMatchObject({
        topic_arn: `${refOf(topic)}.arn}`,
        protocol: "sqs",
        raw_message_delivery: true,
      });
      expect(JSON.parse(subscription.body.redrive_policy)).toEqual({ deadLetterTargetArn: `${refOf(dlq)}.arn}` });
      expect(JSON.parse(queue.body.redrive_policy)).toEqual({
        deadLetterTargetArn: `${refOf(dlq)}.arn}`,
        maxReceiveCount: config.orchestration.maxReceiveCount,
      });
      // A DLQ outlives its source (SQS ages messages from their first enqueue), and redrives back only to it.
      expect(dlq.body.message_retention_seconds).toBeGreaterThan(queue.body.message_retention_seconds);
      const allow = defined(
        resources(json, "aws_sqs_queue_redrive_allow_policy").find((p) => p.body.queue_url === `${refOf(dlq)}.url}`),
        "the DLQ's redrive allow policy",
      );
      expect(JSON.parse(allow.body.redrive_allow_policy)).toEqual({
        redrivePermission: "byQueue",
        sourceQueueArns: [`${refOf(queue)}.arn}`],
      });
      const queuePolicy = parsePolicy(
        defined(
          resources(json, "aws_sqs_queue_policy").find((p) => p.body.queue_url === `${refOf(queue)}.url}`),
          "the queue's policy",
        ).body.policy,
      );
      expect(queuePolicy.Statement.filter((s) => s.Effect === "Allow")).toEqual([
        expect.objectContaining({
          Principal: { Service: "sns.amazonaws.com" },
          Action: "sqs:SendMessage",
          Condition: {
            ArnEquals: { "aws:SourceArn": `${refOf(topic)}.arn}` },
            StringEquals: { "aws:SourceAccount": config.accountId },
          },
        }),
      ]);
      expect(queuePolicy.Statement.find((s) => s.Sid === "DenyInsecureTransport")).toMatchObject({
        Effect: "Deny",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      });
    },
  );
});

describe("the typed ASL builder", () => {
  const task = (next: string): TaskState => ({
    Type: "Task",
    Resource: "arn:aws:states:::sns:publish",
    Retry: [{ ErrorEquals: ["SNS.ThrottledException"] }],
    Catch: [{ ErrorEquals: ["States.ALL"], Next: "Failed" }],
    Next: next,
  });

  it("refuses transitions to undefined states, unreachable states and tasks without Retry or Catch, naming each", () => {
    const sm = new StateMachineBuilder("broken");
    sm.add("A", task("Nowhere"));
    sm.add("Failed", { Type: "Fail" });
    sm.add("Orphan", { Type: "Succeed" });
    sm.add("Bare", { ...task("Failed"), Retry: [], Catch: [] });
    expect(() => sm.build("A")).toThrow(
      [
        "state machine broken is invalid:",
        '  - state "A" goes to undefined "Nowhere"',
        '  - task "Bare" has no Retry',
        '  - task "Bare" has no Catch',
        '  - state "Orphan" is unreachable',
        '  - state "Bare" is unreachable',
      ].join("\n"),
    );
  });

  it("refuses a state defined twice", () => {
    const sm = new StateMachineBuilder("twice");
    sm.add("A", { Type: "Succeed" });
    expect(() => sm.add("A", { Type: "Succeed" })).toThrow('twice: state "A" is defined twice');
  });
});

describe("pipeline jobs", () => {
  it("a job that allows overlapping runs is refused at synth", () => {
    const [config] = loadEnvironments();
    const stack = new PlatformStack(Testing.app(), config);
    const job = (step: string, maxConcurrentRuns: number) =>
      new GlueJob(stack, `overlapping-${step}`, {
        name: stack.naming.name("orders", step),
        roleArn: `arn:aws:iam::${config.accountId}:role/any`,
        command: { scriptLocation: "s3://scripts/job.py" },
        executionProperty: { maxConcurrentRuns },
      });
    expect(
      () =>
        new Orchestration(stack, "second-orchestration", {
          naming: stack.naming,
          accountId: stack.accountId,
          region: config.region,
          lake: stack.lake,
          catalog: stack.catalog,
          pipelines: [
            {
              dataset: stack.datasets[0],
              rawToProcessed: job("raw-to-processed", 3),
              processedToConsumer: job("processed-to-consumer", 1),
            },
          ],
          executionTimeoutMinutes: 60,
          logExecutionData: false,
          maxReceiveCount: 3,
        }),
    ).toThrow(
      /pipeline orders: job .*overlapping-raw-to-processed \(rawToProcessed\) allows 3 concurrent runs; pipeline jobs must allow 1/,
    );
  });
});
