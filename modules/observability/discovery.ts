/**
 * Finds what to watch in a stack, at synth, from the resources themselves: no module lists its
 * resources for observability, so a Lambda, Glue job or dead-letter queue added by any module gets
 * its alarms, dashboard widgets and log settings without an edit here.
 *
 * A queue is a dead-letter queue when another resource names it in a dead-letter setting: an SQS
 * redrive policy, an SNS subscription's redrive policy, an EventBridge target's, a Lambda
 * function's or a pipe's dead-letter config, or an on-failure destination.
 */
import { DefaultTokenResolver, StringConcat, TerraformResource, TerraformStack, Token, Tokenization } from "cdktf";
import type { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import type { GlueJob } from "@cdktf/provider-aws/lib/glue-job";
import type { KinesisFirehoseDeliveryStream } from "@cdktf/provider-aws/lib/kinesis-firehose-delivery-stream";
import type { KinesisStream } from "@cdktf/provider-aws/lib/kinesis-stream";
import type { Kinesisanalyticsv2Application } from "@cdktf/provider-aws/lib/kinesisanalyticsv2-application";
import type { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import type { PipesPipe } from "@cdktf/provider-aws/lib/pipes-pipe";
import type { SfnStateMachine } from "@cdktf/provider-aws/lib/sfn-state-machine";
import type { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import type { IConstruct } from "constructs";

export interface DiscoveredResources {
  readonly lambdaFunctions: readonly LambdaFunction[];
  readonly glueJobs: readonly GlueJob[];
  readonly stateMachines: readonly SfnStateMachine[];
  /** Queues some resource sends its failures to. */
  readonly deadLetterQueues: readonly SqsQueue[];
  /** Every other queue (work queues, buffers, subscribers). */
  readonly queues: readonly SqsQueue[];
  readonly firehoseStreams: readonly KinesisFirehoseDeliveryStream[];
  readonly kinesisStreams: readonly KinesisStream[];
  readonly pipes: readonly PipesPipe[];
  readonly flinkApplications: readonly Kinesisanalyticsv2Application[];
  readonly logGroups: readonly CloudwatchLogGroup[];
}

/** Attributes (Terraform names) that point at a dead-letter target, and where the ARN sits inside them. */
const DEAD_LETTER_FIELDS = ["redrive_policy", "dead_letter_config", "on_failure"] as const;

/** Resource types whose arguments can name a dead-letter queue. */
const REFERRING_TYPES = new Set([
  "aws_sqs_queue",
  "aws_sqs_queue_redrive_policy",
  "aws_sns_topic_subscription",
  "aws_cloudwatch_event_target",
  "aws_lambda_function",
  "aws_lambda_function_event_invoke_config",
  "aws_lambda_event_source_mapping",
  "aws_pipes_pipe",
  "aws_scheduler_schedule",
]);

function ofType<T>(resources: readonly TerraformResource[], type: string): T[] {
  return resources.filter((r) => r.terraformResourceType === type) as unknown as T[];
}

/** Every provider resource in the stack, in construct order. */
export function stackResources(stack: TerraformStack): TerraformResource[] {
  return stack.node.findAll().filter((c: IConstruct): c is TerraformResource => c instanceof TerraformResource);
}

export function discoverResources(stack: TerraformStack): DiscoveredResources {
  const all = stackResources(stack);
  const queues = ofType<SqsQueue>(all, "aws_sqs_queue");
  const deadLetterIds = deadLetterQueueIds(stack, all, queues);
  return {
    lambdaFunctions: ofType(all, "aws_lambda_function"),
    glueJobs: ofType(all, "aws_glue_job"),
    stateMachines: ofType(all, "aws_sfn_state_machine"),
    deadLetterQueues: queues.filter((q) => deadLetterIds.has(q.friendlyUniqueId)),
    queues: queues.filter((q) => !deadLetterIds.has(q.friendlyUniqueId)),
    firehoseStreams: ofType(all, "aws_kinesis_firehose_delivery_stream"),
    kinesisStreams: ofType(all, "aws_kinesis_stream"),
    pipes: ofType(all, "aws_pipes_pipe"),
    flinkApplications: ofType(all, "aws_kinesisanalyticsv2_application"),
    logGroups: ofType(all, "aws_cloudwatch_log_group"),
  };
}

/** Logical ids of the queues named in any resource's dead-letter settings. */
function deadLetterQueueIds(
  stack: TerraformStack,
  all: readonly TerraformResource[],
  queues: readonly SqsQueue[],
): Set<string> {
  const resolve = (value: unknown) =>
    Tokenization.resolve(value, { scope: stack, resolver: new DefaultTokenResolver(new StringConcat()) });
  // How a dead-letter setting names each queue: its ARN attribute as cdktf resolves a reference to
  // it, and, for a queue with a literal name, a literal ARN ending in ":sqs:<region>:<account>:<name>".
  const references = queues.map((q) => ({
    id: q.friendlyUniqueId,
    reference: String(resolve(q.arn)),
    name: literal(q.nameInput),
  }));
  const literalQueueName = (text: string, name: string) =>
    text
      .split(/[\s"',]+/)
      .some((part) => part.startsWith("arn:") && part.split(":")[2] === "sqs" && part.split(":")[5] === name);
  const found = new Set<string>();
  for (const resource of all.filter((r) => REFERRING_TYPES.has(r.terraformResourceType))) {
    const body = resolve(resource.toTerraform()).resource?.[resource.terraformResourceType]?.[
      resource.friendlyUniqueId
    ];
    for (const text of deadLetterTexts(body)) {
      for (const q of references) {
        if (text.includes(q.reference) || (q.name !== undefined && literalQueueName(text, q.name))) found.add(q.id);
      }
    }
  }
  return found;
}

/** The text of every dead-letter field anywhere in a resource body (JSON strings included). */
function deadLetterTexts(body: unknown): string[] {
  const out: string[] = [];
  const walk = (node: unknown, inside: boolean) => {
    if (typeof node === "string") {
      if (inside) out.push(node);
    } else if (Array.isArray(node)) {
      node.forEach((n) => walk(n, inside));
    } else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node))
        walk(value, inside || (DEAD_LETTER_FIELDS as readonly string[]).includes(key));
    }
  };
  walk(body, false);
  return out;
}

/** A literal (synth-time) string, or undefined when the value is computed at apply time. */
export function literal(value: string | undefined): string | undefined {
  return typeof value === "string" && !Token.isUnresolved(value) ? value : undefined;
}
