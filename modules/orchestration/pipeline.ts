/**
 * One dataset's event-driven pipeline: the state machine (see pipeline-definition.ts), its role,
 * log group and tracing, and the trigger that starts it when objects land under the dataset's
 * raw-zone prefix.
 *
 * Trigger, batched (the default): raw "Object Created" rule → SQS buffer → EventBridge Pipe
 * (batch size and window from config) → one execution per batch. Without batching (an environment
 * that cannot run Pipes): the rule starts one execution per object. Either way a job never runs
 * twice at once: the Glue jobs allow one concurrent run, and the state machine waits (retries
 * ConcurrentRunsExceeded with backoff) instead of overlapping or failing. What cannot be delivered
 * waits in the trigger's dead-letter queue.
 */
import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { GlueJob } from "@cdktf/provider-aws/lib/glue-job";
import { PipesPipe } from "@cdktf/provider-aws/lib/pipes-pipe";
import { SfnStateMachine } from "@cdktf/provider-aws/lib/sfn-state-machine";
import { Token } from "cdktf";
import { Construct } from "constructs";
import type { PartitionedDataset } from "../../datasets";
import type { Lake } from "../lake";
import { ValidationError } from "../shared/errors";
import type { EncryptionKey } from "../shared/encryption-key";
import { ServiceRole } from "../shared/iam";
import { ALERT_ONLY, XRAY_TRACING } from "../shared/kept-reasons";
import { pascalCase, type Naming } from "../shared/naming";
import { skipPolicyCheck } from "../shared/policy-checks";
import { runLayout } from "../shared/run-layout";
import type { StateMachineDefinition } from "./asl";
import { DeadLetterQueue, SecureQueue, SecureTopic } from "./messaging";
import { pipelineDefinition } from "./pipeline-definition";

/**
 * What a pipeline needs of a Glue job: its name (to start it) and ARN (to grant that). Pass the
 * `GlueJob` itself (the ingestion module's `GlueJobRef.job`): its attributes are references, so
 * Terraform creates the job before the pipeline.
 */
export type PipelineJob = Pick<GlueJob, "name" | "arn">;

/**
 * The jobs one dataset's pipeline runs. The ingestion module provides these (one pair per dataset);
 * anything with a Glue job's name and ARN fits.
 */
export interface DatasetPipelineJobs {
  readonly dataset: PartitionedDataset;
  /** Raw → processed: clean, deduplicate, quarantine rejects. */
  readonly rawToProcessed: PipelineJob;
  /** Processed → consumer: the contract's curated or aggregate view. */
  readonly processedToConsumer: PipelineJob;
}

/** Buffered start: one execution per batch of landed objects. */
export interface TriggerBatching {
  /** Objects per execution at most. */
  readonly batchSize: number;
  /** Seconds the pipe gathers objects before it starts an execution. */
  readonly windowSeconds: number;
}

/** A crawler as the pipeline uses it (the catalog's `GlueCrawler` is one). */
export interface CrawlerRef {
  readonly name: string;
  readonly arn: string;
}

export interface DatasetPipelineProps {
  readonly naming: Naming;
  readonly accountId: string;
  readonly region: string;
  readonly jobs: DatasetPipelineJobs;
  /** The dataset's raw-zone crawler: the pipeline's catalog update. */
  readonly crawler: CrawlerRef;
  /** Literal name of the raw bucket (the event pattern matches it). */
  readonly rawBucketName: string;
  /** The lake: each run's manifest is written to its quarantine zone (see run-layout.ts). */
  readonly lake: Lake;
  /** Failures are published here. */
  readonly alerts: SecureTopic;
  /** Encrypts the trigger's queues. */
  readonly key: EncryptionKey;
  /** `source` of the success event. */
  readonly eventSource: string;
  readonly executionTimeoutMinutes: number;
  /** Log state inputs and outputs, not only events. */
  readonly logExecutionData: boolean;
  /** Receives of a buffered event before it moves to the DLQ. */
  readonly maxReceiveCount: number;
  /** @default one execution per object (no Pipe) */
  readonly batching?: TriggerBatching;
  /** Seconds between crawler status checks. @default 30 */
  readonly crawlerPollSeconds?: number;
}

/** The EventBridge pattern of objects created under a prefix of one bucket. */
export function objectCreatedPattern(bucketName: string, prefix: string): Record<string, unknown> {
  return {
    source: ["aws.s3"],
    "detail-type": ["Object Created"],
    detail: { bucket: { name: [bucketName] }, object: { key: [{ prefix }] } },
  };
}

/**
 * What the pipe passes per buffered event (the execution gets an array of these): the object key.
 * Small on purpose: a batch is one execution input, capped at 256 KiB.
 */
export const PIPE_RECORD_TEMPLATE = '{"key": "<$.body.detail.object.key>"}';

/** Step Functions' cap on one execution's input, in bytes. */
export const EXECUTION_INPUT_MAX_BYTES = 256 * 1024;
const KEY_PLACEHOLDER = "<$.body.detail.object.key>";

/**
 * Bytes of a pipe's execution input for `count` landings whose keys take `keyBytes` each: the
 * records rendered from PIPE_RECORD_TEMPLATE in a JSON array (", " between records, counted generously).
 */
export function batchInputBytes(count: number, keyBytes: number): number {
  const record = Buffer.byteLength(PIPE_RECORD_TEMPLATE.replace(KEY_PLACEHOLDER, ""), "utf8") + keyBytes;
  return 2 + count * record + Math.max(count - 1, 0) * 2;
}

/** The largest batch of keys of `keyBytes` that fits one execution's input. */
export function largestBatchFor(keyBytes: number): number {
  let count = Math.floor(EXECUTION_INPUT_MAX_BYTES / (keyBytes + 2));
  while (count > 0 && batchInputBytes(count, keyBytes) > EXECUTION_INPUT_MAX_BYTES) count--;
  return count;
}

/** How long a buffered event stays invisible while the pipe holds it: its window plus five minutes to start the execution. */
const PIPE_GRACE_SECONDS = 300;

export class DatasetPipeline extends Construct {
  readonly dataset: PartitionedDataset;
  readonly definition: StateMachineDefinition;
  readonly stateMachine: SfnStateMachine;
  readonly stateMachineName: string;
  /** Where each run's manifest and run summaries are kept (the quarantine bucket). */
  readonly runRecordsBucket: string;
  /** "pipeline-manifests/<dataset>/": one manifest per execution, `<execution name>.json`. */
  readonly manifestPrefix: string;
  readonly role: ServiceRole;
  readonly logGroup: CloudwatchLogGroup;
  /** Matches objects created under the dataset's raw prefix. */
  readonly rule: CloudwatchEventRule;
  readonly eventPattern: Record<string, unknown>;
  /** The SQS buffer the pipe reads (batched trigger only). */
  readonly buffer?: SecureQueue;
  readonly pipe?: PipesPipe;
  /** Where events that could not start the pipeline wait. */
  readonly deadLetters: DeadLetterQueue;

  constructor(scope: Construct, id: string, props: DatasetPipelineProps) {
    super(scope, id);
    const { naming, accountId, region, jobs } = props;
    const dataset = jobs.dataset;
    this.dataset = dataset;
    for (const [step, job] of [
      ["rawToProcessed", jobs.rawToProcessed],
      ["processedToConsumer", jobs.processedToConsumer],
    ] as const) {
      assertOneRunAtATime(dataset.name, step, job);
    }

    const runRecordsBucket = props.lake.zones.quarantine.bucket.bucket.bucketInput;
    if (!runRecordsBucket || Token.isUnresolved(runRecordsBucket))
      throw new ValidationError(
        "PIPELINE_COMPUTED_RUN_RECORDS_BUCKET",
        `pipeline ${dataset.name}: the quarantine bucket needs a literal name for the run's manifest and summary paths`,
        this,
      );
    this.runRecordsBucket = runRecordsBucket;
    this.manifestPrefix = runLayout.manifestPrefix(dataset.prefix);

    this.stateMachineName = naming.name(dataset.name, "pipeline");
    const stateMachineArn = naming.arn({
      service: "states",
      region,
      account: accountId,
      resource: `stateMachine:${this.stateMachineName}`,
    });
    this.definition = pipelineDefinition({
      partition: naming.partition,
      dataset: dataset.name,
      datasetPrefix: dataset.prefix,
      runRecordsBucket,
      rawToProcessedJobName: jobs.rawToProcessed.name,
      processedToConsumerJobName: jobs.processedToConsumer.name,
      crawlerName: props.crawler.name,
      alertsTopicArn: props.alerts.arn,
      eventSource: props.eventSource,
      subjectPrefix: naming.prefix,
      timeoutSeconds: props.executionTimeoutMinutes * 60,
      crawlerPollSeconds: props.crawlerPollSeconds,
    });

    this.role = new ServiceRole(this, "role", {
      naming,
      name: `${dataset.name}-pipeline`,
      service: "states.amazonaws.com",
      accountId,
      sourceArns: [stateMachineArn],
      description: `Runs the ${dataset.name} pipeline: its run manifests, its two Glue jobs, its raw crawler, alerts and the success event`,
    });
    this.role.addToPolicy({
      sid: "RunTheDatasetsJobs",
      actions: ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
      resources: [jobs.rawToProcessed.arn, jobs.processedToConsumer.arn],
      keptBecause: [
        {
          reason: "the .sync integration's poller lists the job's runs; the emulated interpreter polls GetJobRun only",
          actions: ["glue:GetJobRuns"],
          citation: "https://docs.aws.amazon.com/step-functions/latest/dg/glue-iam.html",
        },
        {
          reason:
            "used only when an execution is stopped or times out while a job runs: the .sync integration stops the run",
          actions: ["glue:BatchStopJobRun"],
          citation: "https://docs.aws.amazon.com/step-functions/latest/dg/glue-iam.html",
          varies: true,
        },
      ],
    });
    // The run's manifest: written once per execution, read by the raw → processed job (ingestion grants that).
    props.lake.grantWrite("quarantine", this.role, this.manifestPrefix);
    this.role.addToPolicy({
      sid: "CrawlTheRawFolder",
      actions: ["glue:StartCrawler", "glue:GetCrawler"],
      resources: [props.crawler.arn],
    });
    this.role.addToPolicy({
      sid: "PublishTheSuccessEvent",
      actions: ["events:PutEvents"],
      resources: [naming.arn({ service: "events", region, account: accountId, resource: "event-bus/default" })],
      conditions: { StringEquals: { "events:source": props.eventSource } },
    });
    props.alerts.grantPublish(this.role, ALERT_ONLY);
    props.alerts.allowRolePublish(`${pascalCase(dataset.name)}Pipeline`, this.role.arn);
    this.role.addToPolicy({
      sid: "XRayTracing",
      actions: [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
      ],
      resources: ["*"],
      wildcardResourceReason: "X-Ray's write and sampling actions support no resource-level permissions",
      keptBecause: {
        ...XRAY_TRACING,
        citation: "https://docs.aws.amazon.com/step-functions/latest/dg/concepts-xray-tracing.html",
      },
    });
    this.role.addToPolicy({
      sid: "DeliverExecutionLogs",
      actions: [
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
      ],
      resources: ["*"],
      wildcardResourceReason: "CloudWatch Logs' vended-log delivery actions support no resource-level permissions",
      keptBecause: {
        reason:
          "Step Functions sets up the execution log's vended-log delivery with the role when the state machine is created or updated; the emulator's state machines deliver no logs",
        citation: "https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html",
      },
    });

    // Retention and KMS come from observability, which configures every log group in the stack.
    this.logGroup = new CloudwatchLogGroup(this, "logs", { name: `/aws/vendedlogs/states/${this.stateMachineName}` });
    this.stateMachine = new SfnStateMachine(this, "state-machine", {
      name: this.stateMachineName,
      type: "STANDARD", // redrive, exactly-once job starts and a year of runtime; Express has none of them
      roleArn: this.role.arn,
      definition: JSON.stringify(this.definition),
      loggingConfiguration: {
        logDestination: `${this.logGroup.arn}:*`,
        includeExecutionData: props.logExecutionData,
        level: "ALL",
      },
      tracingConfiguration: { enabled: true },
      // Step Functions checks the role's log-delivery permissions when it creates the machine.
      dependsOn: this.role.inlinePolicy ? [this.role.inlinePolicy] : undefined,
    });
    if (!props.logExecutionData) {
      skipPolicyCheck(
        this.stateMachine,
        "CKV_AWS_285",
        "every execution and state transition is logged (level ALL) without its inputs and outputs: they can carry record data, which production logs must not hold (orchestration.logExecutionData rule)",
      );
    }

    this.eventPattern = objectCreatedPattern(props.rawBucketName, dataset.prefix);
    const ruleName = naming.name(dataset.name, "raw-created");
    this.rule = new CloudwatchEventRule(this, "rule", {
      name: ruleName,
      description: `Objects created under ${dataset.prefix} in the raw zone start the ${dataset.name} pipeline`,
      eventPattern: JSON.stringify(this.eventPattern),
    });
    const ruleArn = naming.arn({ service: "events", region, account: accountId, resource: `rule/${ruleName}` });
    const retryPolicy = { maximumEventAgeInSeconds: 24 * 3600, maximumRetryAttempts: 185 }; // EventBridge's maximum: a day of retries

    if (props.batching) {
      const buffer = new SecureQueue(this, "landed", {
        naming,
        name: `${dataset.name}-landed`,
        key: props.key,
        maxReceiveCount: props.maxReceiveCount,
        visibilityTimeoutSeconds: props.batching.windowSeconds + PIPE_GRACE_SECONDS,
      });
      this.buffer = buffer;
      this.deadLetters = buffer.deadLetter;
      buffer.allowSendFrom("FromRawCreatedRule", "events.amazonaws.com", ruleArn, accountId);
      buffer.deadLetter.allowDeadLettersFrom("UndeliveredByRawCreatedRule", "events.amazonaws.com", ruleArn, accountId);
      new CloudwatchEventTarget(this, "to-buffer", {
        rule: this.rule.name,
        targetId: "landed-buffer",
        arn: buffer.arn,
        deadLetterConfig: { arn: buffer.deadLetter.arn },
        retryPolicy,
      });

      const pipeName = naming.name(dataset.name, "pipeline");
      const pipeRole = new ServiceRole(this, "pipe-role", {
        naming,
        name: `${dataset.name}-pipe`,
        service: "pipes.amazonaws.com",
        accountId,
        sourceArns: [naming.arn({ service: "pipes", region, account: accountId, resource: `pipe/${pipeName}` })],
        description: `Reads the ${dataset.name} landing buffer in batches and starts its pipeline`,
      });
      buffer.grantConsume(pipeRole);
      pipeRole.addToPolicy({
        sid: "StartThePipeline",
        actions: ["states:StartExecution"],
        resources: [this.stateMachine.arn],
      });
      this.pipe = new PipesPipe(this, "pipe", {
        name: pipeName,
        description: `Batches ${dataset.name} landings into one pipeline execution`,
        roleArn: pipeRole.arn,
        source: buffer.arn,
        sourceParameters: {
          sqsQueueParameters: {
            batchSize: props.batching.batchSize,
            maximumBatchingWindowInSeconds: props.batching.windowSeconds,
          },
        },
        target: this.stateMachine.arn,
        targetParameters: {
          inputTemplate: PIPE_RECORD_TEMPLATE,
          stepFunctionStateMachineParameters: { invocationType: "FIRE_AND_FORGET" }, // Standard workflows start asynchronously
        },
        dependsOn: pipeRole.inlinePolicy ? [pipeRole.inlinePolicy] : undefined, // the pipe checks its role when it starts
      });
    } else {
      this.deadLetters = new DeadLetterQueue(this, "trigger-dead-letters", {
        naming,
        name: `${dataset.name}-trigger`,
        key: props.key,
      });
      this.deadLetters.allowDeadLettersFrom("UndeliveredByRawCreatedRule", "events.amazonaws.com", ruleArn, accountId);
      const startRole = new ServiceRole(this, "trigger-role", {
        naming,
        name: `${dataset.name}-trigger`,
        service: "events.amazonaws.com",
        accountId,
        sourceArns: [ruleArn],
        description: `Lets the ${dataset.name} raw-created rule start its pipeline`,
      });
      startRole.addToPolicy({
        sid: "StartThePipeline",
        actions: ["states:StartExecution"],
        resources: [this.stateMachine.arn],
      });
      new CloudwatchEventTarget(this, "to-pipeline", {
        rule: this.rule.name,
        targetId: "pipeline",
        arn: this.stateMachine.arn,
        roleArn: startRole.arn,
        deadLetterConfig: { arn: this.deadLetters.arn },
        retryPolicy,
      });
    }
  }
}

/**
 * A pipeline relies on its jobs allowing one run at a time (Glue's default): that is what turns a
 * second execution into a wait instead of an overlapping run. A job that allows more is refused.
 */
function assertOneRunAtATime(dataset: string, step: string, job: PipelineJob): void {
  if (!(job instanceof GlueJob)) return;
  const runs = job.executionPropertyInput?.maxConcurrentRuns;
  if (runs !== undefined && !Token.isUnresolved(runs) && runs !== 1) {
    throw new ValidationError(
      "PIPELINE_CONCURRENT_JOB_RUNS",
      `pipeline ${dataset}: job ${job.node.path} (${step}) allows ${runs} concurrent runs; pipeline jobs must allow 1 (executionProperty.maxConcurrentRuns), so a second execution waits instead of overlapping`,
      job,
    );
  }
}
