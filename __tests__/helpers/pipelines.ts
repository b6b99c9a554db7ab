/**
 * Stand-ins for what the ingestion module will add, built as real provider resources so
 * orchestration and observability are exercised against real Terraform JSON:
 * - `testPipelines`: a raw → processed and a processed → consumer Glue job per dataset (the
 *   `pipelines` hook of PlatformStack);
 * - `addIngestionFixtures`: Lambda functions (one with a dead-letter queue), a Kinesis stream and
 *   a Firehose stream, added after the stack is built, as a module merged later would be.
 */
import { GlueJob } from "@cdktf/provider-aws/lib/glue-job";
import { KinesisFirehoseDeliveryStream } from "@cdktf/provider-aws/lib/kinesis-firehose-delivery-stream";
import { KinesisStream } from "@cdktf/provider-aws/lib/kinesis-stream";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { Testing } from "cdktf";
import { Construct } from "constructs";
import type { EnvironmentConfig } from "../../environments";
import type { DatasetPipelineJobs } from "../../modules/orchestration";
import { PlatformStack, type PlatformStackOptions } from "../../modules/platform-stack";
import type { TerraformJson } from "./synth";

/** Glue job names the fixtures give a dataset's pipeline jobs. */
export const jobName = (stack: PlatformStack, dataset: string, step: "raw-to-processed" | "processed-to-consumer") => stack.naming.name(dataset, step);

export function testPipelines(stack: PlatformStack, options: { readonly maxConcurrentRuns?: number } = {}): DatasetPipelineJobs[] {
  const scope = new Construct(stack, "test-ingestion-jobs");
  const job = (dataset: string, step: "raw-to-processed" | "processed-to-consumer") =>
    new GlueJob(scope, `${dataset}-${step}`, {
      name: jobName(stack, dataset, step),
      roleArn: `arn:aws:iam::${stack.config.accountId}:role/${stack.naming.name("test-jobs")}`,
      glueVersion: "5.0",
      command: { name: "glueetl", pythonVersion: "3", scriptLocation: `s3://scripts/${step}.py` },
      securityConfiguration: stack.catalog.securityConfigurationName,
      ...(options.maxConcurrentRuns !== undefined ? { executionProperty: { maxConcurrentRuns: options.maxConcurrentRuns } } : {}),
    });
  return stack.datasets.map((dataset) => ({
    dataset,
    rawToProcessed: job(dataset.name, "raw-to-processed"),
    processedToConsumer: job(dataset.name, "processed-to-consumer"),
  }));
}

export interface IngestionFixtures {
  readonly lambdas: { readonly name: string; readonly timeout?: number }[];
  readonly lambdaDeadLetterQueue: string;
  readonly kinesisStream: string;
  readonly firehoseStream: string;
}

/** Adds ingestion-like resources to a built stack; returns their names. */
export function addIngestionFixtures(stack: PlatformStack): IngestionFixtures {
  const scope = new Construct(stack, "test-ingestion");
  const role = `arn:aws:iam::${stack.config.accountId}:role/${stack.naming.name("test-lambda")}`;
  const dlqName = stack.naming.name("api-ingest", "dlq");
  const dlq = new SqsQueue(scope, "api-ingest-dlq", { name: dlqName, sqsManagedSseEnabled: true });
  const lambdas = [
    { name: stack.naming.name("api-ingest"), timeout: 300 },
    { name: stack.naming.name("api-paginate"), timeout: 60 },
    { name: stack.naming.name("api-default-timeout") }, // Lambda's 3 s default
  ];
  lambdas.forEach((l, i) =>
    new LambdaFunction(scope, `fn-${i}`, {
      functionName: l.name,
      role,
      runtime: "nodejs20.x",
      handler: "index.handler",
      s3Bucket: "artifacts",
      s3Key: "fn.zip",
      timeout: l.timeout,
      deadLetterConfig: i === 0 ? { targetArn: dlq.arn } : undefined,
    }),
  );
  const kinesisStream = stack.naming.name("clicks");
  const stream = new KinesisStream(scope, "clicks", { name: kinesisStream, streamModeDetails: { streamMode: "ON_DEMAND" } });
  const firehoseStream = stack.naming.name("clicks-to-raw");
  new KinesisFirehoseDeliveryStream(scope, "clicks-to-raw", {
    name: firehoseStream,
    destination: "extended_s3",
    kinesisSourceConfiguration: { kinesisStreamArn: stream.arn, roleArn: role },
    extendedS3Configuration: { roleArn: role, bucketArn: stack.lake.zones.raw.bucket.arn, prefix: "clickstream/" },
  });
  return { lambdas, lambdaDeadLetterQueue: dlqName, kinesisStream, firehoseStream };
}

/** One environment synthesized with the test pipelines and ingestion fixtures. */
export function synthWithIngestion(
  config: EnvironmentConfig,
  options: PlatformStackOptions = {},
): { stack: PlatformStack; json: TerraformJson; fixtures: IngestionFixtures } {
  const stack = new PlatformStack(Testing.app(), config, { pipelines: (s) => testPipelines(s), ...options });
  const fixtures = addIngestionFixtures(stack);
  return { stack, json: JSON.parse(Testing.synth(stack)), fixtures };
}
