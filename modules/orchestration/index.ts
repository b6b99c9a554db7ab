/**
 * Orchestration: event-driven pipelines and the messaging around them.
 *
 * - One `DatasetPipeline` per dataset whose jobs are given: raw "Object Created" events start a
 *   Step Functions state machine (raw → processed job, raw crawl, processed → consumer job, a
 *   success event), batched through SQS and EventBridge Pipes where the environment allows.
 * - Two KMS-encrypted SNS topics: `alerts` (the on-call topic: pipeline failures, and alarms where
 *   the environment pages) and `pipeline-events` (success events and Glue job state changes). Only
 *   our EventBridge rules, our CloudWatch alarms and the pipelines' roles may publish.
 * - SQS subscribers fanning out from the topics, each with a dead-letter queue and a redrive
 *   (docs/operator-guide.md).
 */
import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { Token } from "cdktf";
import { Construct } from "constructs";
import type { Catalog } from "../catalog";
import type { Lake } from "../lake";
import { ValidationError } from "../shared/errors";
import { EncryptionKey } from "../shared/encryption-key";
import { pascalCase, type Naming } from "../shared/naming";
import { mapValues, stackOutput } from "../shared/outputs";
import { DeadLetterQueue, SecureQueue, SecureTopic, type QueueSubscriptionOptions } from "./messaging";
import { DatasetPipeline, type DatasetPipelineJobs, type TriggerBatching } from "./pipeline";
import { PIPELINE_SUCCEEDED } from "./pipeline-definition";

// What wiring, operators' tools and tests use; the ASL builder's internals stay in ./asl.
export { StateMachineBuilder, transitionsOf } from "./asl";
export type { JsonPath, PassState, State, StateMachineDefinition, TaskState } from "./asl";
export { DeadLetterQueue, QUEUE_DEFAULTS, SecureQueue, SecureTopic } from "./messaging";
export type { QueueSubscriptionOptions } from "./messaging";
export {
  batchInputBytes,
  DatasetPipeline,
  EXECUTION_INPUT_MAX_BYTES,
  largestBatchFor,
  PIPE_RECORD_TEMPLATE,
} from "./pipeline";
export type { CrawlerRef, DatasetPipelineJobs, PipelineJob, TriggerBatching } from "./pipeline";
export {
  CRAWLER_BUSY_ERRORS,
  JOB_BUSY_ERRORS,
  PIPELINE_SUCCEEDED,
  STEPS,
  TRANSIENT_ERRORS,
} from "./pipeline-definition";

export type TopicName = "alerts" | "pipelineEvents";

/** An SQS queue fanned out from one of the topics. */
export interface SubscriberSpec extends QueueSubscriptionOptions {
  /** Component name: the queue is "<prefix>-<name>" (with "<prefix>-<name>-dlq"). */
  readonly name: string;
  readonly topic: TopicName;
  /** Who reads it and why (documentation; also the queue's place in the README). */
  readonly purpose: string;
}

/** Subscribers every environment gets unless told otherwise. */
export const DEFAULT_SUBSCRIBERS: readonly SubscriberSpec[] = [
  {
    name: "pipeline-events",
    topic: "pipelineEvents",
    purpose: "downstream consumers: success events and Glue job state changes",
  },
  {
    name: "alerts-log",
    topic: "alerts",
    purpose: "a durable, queryable record of every alert, including where nobody is paged",
  },
];

export interface OrchestrationProps {
  readonly naming: Naming;
  readonly accountId: string;
  readonly region: string;
  readonly lake: Lake;
  /** Raw-zone crawlers (the pipelines' catalog update). */
  readonly catalog: Catalog;
  /** The jobs of each dataset's pipeline (from the ingestion module). @default none: messaging only */
  readonly pipelines?: readonly DatasetPipelineJobs[];
  /** Batch landings through SQS and EventBridge Pipes. @default one execution per object */
  readonly batching?: TriggerBatching;
  readonly executionTimeoutMinutes: number;
  /** Log state inputs and outputs, not only events (off in prod). */
  readonly logExecutionData: boolean;
  /** Receives before a subscriber's or buffer's message moves to its DLQ. */
  readonly maxReceiveCount: number;
  /** @default DEFAULT_SUBSCRIBERS */
  readonly subscribers?: readonly SubscriberSpec[];
  /** Seconds between a pipeline's crawler status checks. @default 30 */
  readonly crawlerPollSeconds?: number;
}

export class Orchestration extends Construct {
  /** Encrypts the topics and every queue of this module. */
  readonly key: EncryptionKey;
  /** The on-call topic: pipeline failures, and alarms where the environment pages. */
  readonly alerts: SecureTopic;
  /** Success events and Glue job state changes. */
  readonly pipelineEvents: SecureTopic;
  readonly subscribers: Readonly<Record<string, SecureQueue>>;
  readonly pipelines: Readonly<Record<string, DatasetPipeline>>;
  /** `source` of the events pipelines emit on the default bus. */
  readonly eventSource: string;
  /** Routes pipeline success events to `pipelineEvents`. */
  readonly successRule: CloudwatchEventRule;
  /** Routes the pipeline jobs' state changes to `pipelineEvents` (absent without pipelines). */
  readonly glueJobStateRule?: CloudwatchEventRule;
  /** What EventBridge could not deliver to a topic. */
  readonly deliveryDeadLetters: DeadLetterQueue;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: OrchestrationProps,
  ) {
    super(scope, id);
    const { naming, accountId, region } = props;
    const prefix = naming.prefix;
    const ours = {
      rules: naming.arn({ service: "events", region, account: accountId, resource: `rule/${prefix}-*` }),
      alarms: naming.arn({ service: "cloudwatch", region, account: accountId, resource: `alarm:${prefix}-*` }),
      topics: naming.arn({ service: "sns", region, account: accountId, resource: `${prefix}-*` }),
    };

    this.key = new EncryptionKey(this, "key", { naming, purpose: "messaging", accountId, region });
    // Services that write to our encrypted topics and queues on their own behalf, each pinned to our resources.
    const keyUse = ["kms:GenerateDataKey", "kms:Decrypt"];
    const pinned = (arn: string) => ({
      StringEquals: { "aws:SourceAccount": accountId },
      ArnLike: { "aws:SourceArn": arn },
    });
    this.key.allowService("EventBridgeRules", "events.amazonaws.com", keyUse, pinned(ours.rules));
    this.key.allowService("CloudWatchAlarms", "cloudwatch.amazonaws.com", keyUse, pinned(ours.alarms));
    this.key.allowService("SnsToEncryptedQueues", "sns.amazonaws.com", keyUse, pinned(ours.topics));

    const topic = { naming, key: this.key, accountId };
    this.alerts = new SecureTopic(this, "alerts", { ...topic, name: "alerts", displayName: `${prefix} alerts` });
    this.alerts.allowServicePublish("CloudWatchAlarms", "cloudwatch.amazonaws.com", ours.alarms);
    this.alerts.allowServicePublish("EventBridgeRules", "events.amazonaws.com", ours.rules);
    this.pipelineEvents = new SecureTopic(this, "pipeline-events", {
      ...topic,
      name: "pipeline-events",
      displayName: `${prefix} pipeline events`,
    });
    this.pipelineEvents.allowServicePublish("EventBridgeRules", "events.amazonaws.com", ours.rules);

    const subscribers: Record<string, SecureQueue> = {};
    for (const spec of props.subscribers ?? DEFAULT_SUBSCRIBERS) {
      if (subscribers[spec.name])
        throw new ValidationError(
          "ORCHESTRATION_DUPLICATE_SUBSCRIBER",
          `subscriber "${spec.name}" is defined twice`,
          this,
        );
      const queue = new SecureQueue(this, `${spec.name}-subscriber`, {
        naming,
        name: spec.name,
        key: this.key,
        maxReceiveCount: props.maxReceiveCount,
      });
      (spec.topic === "alerts" ? this.alerts : this.pipelineEvents).subscribeQueue(spec.name, queue, spec);
      subscribers[spec.name] = queue;
    }
    this.subscribers = subscribers;

    this.deliveryDeadLetters = new DeadLetterQueue(this, "event-delivery-dead-letters", {
      naming,
      name: "event-delivery",
      key: this.key,
    });
    this.eventSource = `${prefix}.pipelines`;
    this.successRule = this.route(
      "pipeline-succeeded",
      `Pipeline success events → ${this.pipelineEvents.topicName}`,
      this.pipelineEvents,
      {
        source: [this.eventSource],
        "detail-type": [PIPELINE_SUCCEEDED],
      },
    );

    const rawBucketName = props.lake.zones.raw.bucket.bucket.bucketInput;
    if (!rawBucketName || Token.isUnresolved(rawBucketName))
      throw new ValidationError(
        "ORCHESTRATION_COMPUTED_RAW_BUCKET",
        "the raw bucket needs a literal name for the trigger's event pattern",
        this,
      );
    const pipelines: Record<string, DatasetPipeline> = {};
    for (const jobs of props.pipelines ?? []) {
      const name = jobs.dataset.name;
      if (pipelines[name])
        throw new ValidationError("ORCHESTRATION_DUPLICATE_PIPELINE", `dataset ${name} has two pipelines`, this);
      const crawler = props.catalog.crawlers[name];
      if (!crawler)
        throw new ValidationError(
          "ORCHESTRATION_NO_RAW_CRAWLER",
          `dataset ${name} has no raw-zone crawler: a pipeline starts from raw landings, so the dataset must live in the raw zone`,
          this,
        );
      pipelines[name] = new DatasetPipeline(this, `${name}-pipeline`, {
        naming,
        accountId,
        region,
        jobs,
        crawler,
        rawBucketName,
        lake: props.lake,
        alerts: this.alerts,
        key: this.key,
        eventSource: this.eventSource,
        executionTimeoutMinutes: props.executionTimeoutMinutes,
        logExecutionData: props.logExecutionData,
        maxReceiveCount: props.maxReceiveCount,
        batching: props.batching,
        crawlerPollSeconds: props.crawlerPollSeconds,
      });
    }
    this.pipelines = pipelines;

    const jobNames = (props.pipelines ?? []).flatMap((p) => [p.rawToProcessed.name, p.processedToConsumer.name]);
    if (jobNames.length > 0) {
      this.glueJobStateRule = this.route(
        "glue-job-state",
        `Pipeline Glue job state changes → ${this.pipelineEvents.topicName}`,
        this.pipelineEvents,
        {
          source: ["aws.glue"],
          "detail-type": ["Glue Job State Change"],
          detail: { jobName: jobNames },
        },
      );
    }

    stackOutput(
      this,
      "orchestration_alerts_topic_arn",
      this.alerts.arn,
      "SNS on-call topic: pipeline failures, and alarms where the environment pages",
    );
    stackOutput(
      this,
      "orchestration_pipeline_events_topic_arn",
      this.pipelineEvents.arn,
      "SNS topic of pipeline success events and Glue job state changes",
    );
    stackOutput(
      this,
      "orchestration_subscriber_queue_urls",
      mapValues(subscribers, (q) => q.url),
      "SQS queue subscribed to a topic, by subscriber name (each with a dead-letter queue)",
    );
    stackOutput(
      this,
      "orchestration_state_machine_arns",
      mapValues(pipelines, (p) => p.stateMachine.arn),
      "Step Functions state machine of each dataset's pipeline, by dataset name",
    );
  }

  /** A rule on the default bus delivering matching events to a topic; what cannot be delivered goes to the delivery DLQ. */
  private route(
    name: string,
    description: string,
    topic: SecureTopic,
    pattern: Record<string, unknown>,
  ): CloudwatchEventRule {
    const { naming, accountId, region } = this.props;
    const ruleName = naming.name(name);
    const rule = new CloudwatchEventRule(this, `${name}-rule`, {
      name: ruleName,
      description,
      eventPattern: JSON.stringify(pattern),
    });
    const ruleArn = naming.arn({ service: "events", region, account: accountId, resource: `rule/${ruleName}` });
    this.deliveryDeadLetters.allowDeadLettersFrom(
      `Undelivered${pascalCase(name)}`,
      "events.amazonaws.com",
      ruleArn,
      accountId,
    );
    new CloudwatchEventTarget(this, `${name}-target`, {
      rule: rule.name,
      targetId: "topic",
      arn: topic.arn,
      deadLetterConfig: { arn: this.deliveryDeadLetters.arn },
      retryPolicy: { maximumEventAgeInSeconds: 24 * 3600, maximumRetryAttempts: 185 },
    });
    return rule;
  }
}
