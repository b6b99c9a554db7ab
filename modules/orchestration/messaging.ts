/**
 * Messaging building blocks with the platform's baseline, the way SecureBucket is for S3:
 *
 * - `SecureQueue`: an SQS queue encrypted with a KMS key, TLS-only, with its own dead-letter queue
 *   (longer retention, redrive back allowed only to its source) and grant methods.
 * - `SecureTopic`: an SNS topic encrypted with a KMS key whose policy lets only the publishers it
 *   was told about publish — AWS services pinned to our account and resource ARNs, and named
 *   roles — and denies everyone else; SQS subscribers get a DLQ for undeliverable messages too.
 */
import { Lazy } from "cdktf";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { SnsTopicPolicy } from "@cdktf/provider-aws/lib/sns-topic-policy";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { SqsQueuePolicy } from "@cdktf/provider-aws/lib/sqs-queue-policy";
import { SqsQueueRedriveAllowPolicy } from "@cdktf/provider-aws/lib/sqs-queue-redrive-allow-policy";
import { Construct } from "constructs";
import type { EncryptionKey } from "../shared/encryption-key";
import { IGrantable, KeptReason, PolicyStatement, keptList, policyDocument, sidOf } from "../shared/iam";
import { QUEUE_KEY, TOPIC_KEY } from "../shared/kept-reasons";
import type { Naming } from "../shared/naming";

/** Defaults for queues, each with its reason. */
export const QUEUE_DEFAULTS = {
  /** Four days (SQS's default): long enough to survive a weekend outage of a consumer. */
  retentionSeconds: 4 * 24 * 3600,
  /** Fourteen days (SQS's maximum) in a DLQ: SQS ages messages from their first enqueue, so a DLQ must outlive its source. */
  deadLetterRetentionSeconds: 14 * 24 * 3600,
  /** Five minutes: one consumer attempt, after which the message is visible for another try. */
  visibilityTimeoutSeconds: 300,
  /** Reuse a data key for five minutes: fewer KMS calls, same key. */
  kmsDataKeyReusePeriodSeconds: 300,
  /** Long polling: fewer empty receives. */
  receiveWaitTimeSeconds: 20,
} as const;

export interface SecureQueueProps {
  readonly naming: Naming;
  /** Component name: the queue is "<prefix>-<name>", its DLQ "<prefix>-<name>-dlq". */
  readonly name: string;
  readonly key: EncryptionKey;
  /** Receives before a message moves to the DLQ. */
  readonly maxReceiveCount: number;
  /** @default QUEUE_DEFAULTS.visibilityTimeoutSeconds */
  readonly visibilityTimeoutSeconds?: number;
  /** @default QUEUE_DEFAULTS.retentionSeconds */
  readonly retentionSeconds?: number;
}

export interface DeadLetterQueueProps {
  readonly naming: Naming;
  /** Component name: the queue is "<prefix>-<name>-dlq". */
  readonly name: string;
  readonly key: EncryptionKey;
}

/**
 * An encrypted, TLS-only queue that only receives what something else could not process or
 * deliver, kept for SQS's maximum of 14 days. Observability finds it (another resource names it in
 * a dead-letter setting) and alarms on its depth.
 */
export class DeadLetterQueue extends Construct {
  readonly queue: SqsQueue;
  readonly arn: string;
  readonly url: string;
  readonly queueName: string;
  private readonly statements: PolicyStatement[] = [];

  constructor(scope: Construct, id: string, props: DeadLetterQueueProps) {
    super(scope, id);
    this.queueName = props.naming.name(props.name, "dlq");
    this.queue = new SqsQueue(this, "queue", {
      name: this.queueName,
      messageRetentionSeconds: QUEUE_DEFAULTS.deadLetterRetentionSeconds,
      kmsMasterKeyId: props.key.arn,
      kmsDataKeyReusePeriodSeconds: QUEUE_DEFAULTS.kmsDataKeyReusePeriodSeconds,
    });
    this.arn = this.queue.arn;
    this.url = this.queue.url;
    new SqsQueuePolicy(this, "policy", {
      queueUrl: this.queue.url,
      policy: Lazy.stringValue({ produce: () => policyDocument([...tlsOnly(this.queue.arn), ...this.statements]) }),
    });
  }

  /**
   * Lets an AWS service put what it could not deliver here (an EventBridge target's or an SNS
   * subscription's dead-letter config), pinned to that resource.
   */
  allowDeadLettersFrom(sid: string, service: string, sourceArn: string, accountId: string): void {
    this.statements.push(sendFrom(sid, service, this.queue.arn, sourceArn, accountId));
  }
}

/** An encrypted queue and its dead-letter queue. */
export class SecureQueue extends Construct {
  readonly queue: SqsQueue;
  readonly deadLetter: DeadLetterQueue;
  readonly arn: string;
  readonly url: string;
  /** Physical name (known at synth, for dashboards and runbooks). */
  readonly queueName: string;
  private readonly statements: PolicyStatement[] = [];

  constructor(
    scope: Construct,
    id: string,
    private readonly props: SecureQueueProps,
  ) {
    super(scope, id);
    this.queueName = props.naming.name(props.name);
    this.deadLetter = new DeadLetterQueue(this, "dead-letter", {
      naming: props.naming,
      name: props.name,
      key: props.key,
    });
    this.queue = new SqsQueue(this, "queue", {
      name: this.queueName,
      messageRetentionSeconds: props.retentionSeconds ?? QUEUE_DEFAULTS.retentionSeconds,
      visibilityTimeoutSeconds: props.visibilityTimeoutSeconds ?? QUEUE_DEFAULTS.visibilityTimeoutSeconds,
      receiveWaitTimeSeconds: QUEUE_DEFAULTS.receiveWaitTimeSeconds,
      redrivePolicy: JSON.stringify({
        deadLetterTargetArn: this.deadLetter.arn,
        maxReceiveCount: props.maxReceiveCount,
      }),
      kmsMasterKeyId: props.key.arn,
      kmsDataKeyReusePeriodSeconds: QUEUE_DEFAULTS.kmsDataKeyReusePeriodSeconds,
    });
    // Only this queue may use the DLQ, so a redrive (start-message-move-task) returns messages here.
    new SqsQueueRedriveAllowPolicy(this, "redrive-allow", {
      queueUrl: this.deadLetter.url,
      redriveAllowPolicy: JSON.stringify({ redrivePermission: "byQueue", sourceQueueArns: [this.queue.arn] }),
    });
    new SqsQueuePolicy(this, "policy", {
      queueUrl: this.queue.url,
      policy: Lazy.stringValue({ produce: () => policyDocument([...tlsOnly(this.queue.arn), ...this.statements]) }),
    });
    this.arn = this.queue.arn;
    this.url = this.queue.url;
  }

  /** The dead-letter queue itself. */
  get deadLetterQueue(): SqsQueue {
    return this.deadLetter.queue;
  }

  /** Lets an AWS service send to the queue on behalf of one resource of ours (`aws:SourceArn`). */
  allowSendFrom(sid: string, service: string, sourceArn: string, accountId: string): void {
    this.statements.push(sendFrom(sid, service, this.queue.arn, sourceArn, accountId));
  }

  /** Receive and delete messages (and decrypt them through SQS). */
  grantConsume(grantee: IGrantable): void {
    grantee.addToPolicy({
      sid: sidOf("consume", this.node.id),
      actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
      resources: [this.queue.arn],
      keptBecause: [
        {
          reason:
            "a consumer reads the queue's attributes (its visibility timeout, its redrive policy) when it starts polling; the emulated poller reads them in process",
          actions: ["sqs:GetQueueAttributes"],
          citation: "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-sqs.html",
        },
        {
          reason: "used only on failure: a message whose processing failed is made visible again for its retry",
          actions: ["sqs:ChangeMessageVisibility"],
          varies: true,
        },
      ],
    });
    this.props.key.grantDecrypt(grantee, "sqs", QUEUE_KEY);
  }
}

function sendFrom(
  sid: string,
  service: string,
  queueArn: string,
  sourceArn: string,
  accountId: string,
): PolicyStatement {
  return {
    sid,
    principals: { Service: service },
    actions: ["sqs:SendMessage"],
    resources: [queueArn],
    conditions: { ArnEquals: { "aws:SourceArn": sourceArn }, StringEquals: { "aws:SourceAccount": accountId } },
  };
}

function tlsOnly(queueArn: string): PolicyStatement[] {
  return [
    {
      sid: "DenyInsecureTransport",
      effect: "Deny",
      principals: "*",
      actions: ["sqs:*"],
      resources: [queueArn],
      conditions: { Bool: { "aws:SecureTransport": "false" } },
    },
  ];
}

export interface SecureTopicProps {
  readonly naming: Naming;
  /** Component name: the topic is "<prefix>-<name>". */
  readonly name: string;
  readonly key: EncryptionKey;
  readonly accountId: string;
  readonly displayName?: string;
}

export interface QueueSubscriptionOptions {
  /** SNS filter policy (on message attributes unless `filterPolicyScope` says "MessageBody"). @default every message */
  readonly filterPolicy?: Readonly<Record<string, unknown>>;
  readonly filterPolicyScope?: "MessageAttributes" | "MessageBody";
}

/** An encrypted topic whose policy names every publisher. */
export class SecureTopic extends Construct {
  readonly topic: SnsTopic;
  readonly arn: string;
  readonly topicName: string;
  readonly subscriptions: SnsTopicSubscription[] = [];
  private readonly servicePublishers: { sid: string; service: string; sourceArn: string }[] = [];
  private readonly rolePublishers: { sid: string; roleArn: string }[] = [];

  constructor(
    scope: Construct,
    id: string,
    private readonly props: SecureTopicProps,
  ) {
    super(scope, id);
    this.topicName = props.naming.name(props.name);
    this.topic = new SnsTopic(this, "topic", {
      name: this.topicName,
      displayName: props.displayName,
      kmsMasterKeyId: props.key.arn,
    });
    this.arn = this.topic.arn;
    new SnsTopicPolicy(this, "policy", {
      arn: this.topic.arn,
      policy: Lazy.stringValue({ produce: () => this.policy() }),
    });
  }

  /**
   * Lets an AWS service publish for resources of ours: `sourceArn` may be a pattern
   * ("arn:aws:events:…:rule/<prefix>-*"); the account is pinned too.
   */
  allowServicePublish(sid: string, service: string, sourceArn: string): void {
    this.servicePublishers.push({ sid, service, sourceArn });
  }

  /** Lets one IAM role publish (it needs `grantPublish` as well). */
  allowRolePublish(sid: string, roleArn: string): void {
    this.rolePublishers.push({ sid, roleArn });
  }

  /** Identity permission to publish, including the key (through SNS). */
  grantPublish(grantee: IGrantable, keptBecause?: KeptReason): void {
    grantee.addToPolicy({
      sid: sidOf("publish", this.node.id),
      actions: ["sns:Publish"],
      resources: [this.topic.arn],
      ...(keptBecause ? { keptBecause } : {}),
    });
    this.props.key.grantEncryptDecrypt(grantee, "sns", keptList(keptBecause).concat(TOPIC_KEY));
  }

  /**
   * Subscribes a queue (raw message delivery): the queue accepts only this topic, and what SNS
   * cannot deliver goes to the queue's DLQ instead of being dropped after SNS's retries.
   */
  subscribeQueue(id: string, queue: SecureQueue, options: QueueSubscriptionOptions = {}): SnsTopicSubscription {
    queue.allowSendFrom(
      `From${id.replace(/[^A-Za-z0-9]/g, "")}Topic`,
      "sns.amazonaws.com",
      this.topic.arn,
      this.props.accountId,
    );
    queue.deadLetter.allowDeadLettersFrom(
      `Undeliverable${id.replace(/[^A-Za-z0-9]/g, "")}`,
      "sns.amazonaws.com",
      this.topic.arn,
      this.props.accountId,
    );
    const subscription = new SnsTopicSubscription(this, `${id}-subscription`, {
      topicArn: this.topic.arn,
      protocol: "sqs",
      endpoint: queue.arn,
      rawMessageDelivery: true,
      redrivePolicy: JSON.stringify({ deadLetterTargetArn: queue.deadLetter.arn }),
      filterPolicy: options.filterPolicy ? JSON.stringify(options.filterPolicy) : undefined,
      filterPolicyScope: options.filterPolicy ? (options.filterPolicyScope ?? "MessageAttributes") : undefined,
    });
    this.subscriptions.push(subscription);
    return subscription;
  }

  private policy(): string {
    const { accountId, naming } = this.props;
    const services = this.servicePublishers.map((p) => p.service);
    const roles = this.rolePublishers.map((p) => p.roleArn);
    const statements: PolicyStatement[] = [
      ...this.servicePublishers.map((p): PolicyStatement => ({
        sid: p.sid,
        principals: { Service: p.service },
        actions: ["sns:Publish"],
        resources: [this.topic.arn],
        conditions: { StringEquals: { "aws:SourceAccount": accountId }, ArnLike: { "aws:SourceArn": p.sourceArn } },
      })),
      ...this.rolePublishers.map((p): PolicyStatement => ({
        sid: p.sid,
        principals: { AWS: p.roleArn },
        actions: ["sns:Publish"],
        resources: [this.topic.arn],
      })),
      {
        // Anyone else is refused, even with an IAM policy that allows sns:Publish.
        sid: "DenyOtherPublishers",
        effect: "Deny",
        principals: "*",
        actions: ["sns:Publish"],
        resources: [this.topic.arn],
        conditions: {
          StringNotEqualsIfExists: { "aws:PrincipalServiceName": services.length > 0 ? services : ["none"] },
          ArnNotEqualsIfExists: {
            "aws:PrincipalArn":
              roles.length > 0 ? roles : [naming.arn({ service: "iam", account: accountId, resource: "role/none" })],
          },
        },
      },
      {
        sid: "DenyInsecureTransport",
        effect: "Deny",
        principals: "*",
        actions: ["sns:Publish", "sns:Subscribe"],
        resources: [this.topic.arn],
        conditions: { Bool: { "aws:SecureTransport": "false" } },
      },
    ];
    return policyDocument(statements);
  }
}
