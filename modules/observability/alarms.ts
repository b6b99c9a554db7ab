/**
 * Which alarms each kind of resource gets, with thresholds from the environment's `alarms` config.
 * Pure data: the Observability construct turns these specs into `aws_cloudwatch_metric_alarm`s.
 *
 * Every alarm fires when a period's value is greater than its threshold, is evaluated over the
 * environment's period / evaluationPeriods / datapointsToAlarm, and treats missing data as fine
 * (no invocations means no errors).
 */
import type { AlarmsConfig } from "../../environments";
import type { StreamSqlConfig } from "../../environments/schema";

/** Lambda's timeout when a function does not set one (seconds). */
export const LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3;

export type AlarmKind =
  | "lambda-errors"
  | "lambda-throttles"
  | "lambda-duration"
  | "glue-job-failures"
  | "state-machine-failed"
  | "state-machine-timed-out"
  | "dead-letter-queue-depth"
  | "firehose-freshness"
  | "kinesis-iterator-age"
  | "flink-downtime"
  | "flink-checkpoint-failures"
  | "flink-millis-behind-latest";

export interface AlarmSpec {
  readonly kind: AlarmKind;
  /** Suffix of the alarm name ("<resource>-<suffix>"). */
  readonly suffix: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  /** Either a statistic or a percentile ("p99"). */
  readonly statistic?: "Sum" | "Maximum" | "Average";
  readonly extendedStatistic?: string;
  readonly threshold: number;
  readonly description: string;
}

const RUNBOOK = "Runbook: docs/operator-guide.md";

export function lambdaAlarms(config: AlarmsConfig, functionName: string, timeoutSeconds: number): AlarmSpec[] {
  const dimensions = { FunctionName: functionName };
  const durationMs = Math.round((timeoutSeconds * 1000 * config.lambdaDurationPercentOfTimeout) / 100);
  return [
    {
      kind: "lambda-errors",
      suffix: "errors",
      namespace: "AWS/Lambda",
      metricName: "Errors",
      dimensions,
      statistic: "Sum",
      threshold: config.lambdaErrors,
      description: `More than ${config.lambdaErrors} failed invocations per period. Check the function's log group; failed async events wait in its dead-letter queue. ${RUNBOOK}`,
    },
    {
      kind: "lambda-throttles",
      suffix: "throttles",
      namespace: "AWS/Lambda",
      metricName: "Throttles",
      dimensions,
      statistic: "Sum",
      threshold: config.lambdaThrottles,
      description: `More than ${config.lambdaThrottles} throttled invocations per period: concurrency limit reached. ${RUNBOOK}`,
    },
    {
      kind: "lambda-duration",
      suffix: "duration",
      namespace: "AWS/Lambda",
      metricName: "Duration",
      dimensions,
      extendedStatistic: "p99",
      threshold: durationMs,
      description: `p99 duration above ${config.lambdaDurationPercentOfTimeout}% of the function's ${timeoutSeconds} s timeout (${durationMs} ms): it is close to being killed. ${RUNBOOK}`,
    },
  ];
}

/** Glue job failures are counted by an EventBridge rule per job (AWS/Events TriggeredRules): Glue publishes no job-failure metric. */
export function glueJobAlarms(config: AlarmsConfig, failureRuleName: string): AlarmSpec[] {
  return [
    {
      kind: "glue-job-failures",
      suffix: "failures",
      namespace: "AWS/Events",
      metricName: "TriggeredRules",
      dimensions: { RuleName: failureRuleName },
      statistic: "Sum",
      threshold: config.glueJobFailures,
      description: `More than ${config.glueJobFailures} runs failed, timed out or errored per period. aws glue get-job-runs --job-name <job>. ${RUNBOOK}#recover-a-failed-pipeline`,
    },
  ];
}

export function stateMachineAlarms(config: AlarmsConfig, stateMachineArn: string): AlarmSpec[] {
  const dimensions = { StateMachineArn: stateMachineArn };
  return [
    {
      kind: "state-machine-failed",
      suffix: "failed",
      namespace: "AWS/States",
      metricName: "ExecutionsFailed",
      dimensions,
      statistic: "Sum",
      threshold: config.stateMachineFailures,
      description: `More than ${config.stateMachineFailures} failed executions per period; each one also alerted with its step and error. Fix, then redrive. ${RUNBOOK}#recover-a-failed-pipeline`,
    },
    {
      kind: "state-machine-timed-out",
      suffix: "timed-out",
      namespace: "AWS/States",
      metricName: "ExecutionsTimedOut",
      dimensions,
      statistic: "Sum",
      threshold: config.stateMachineFailures,
      description: `More than ${config.stateMachineFailures} executions ran past the execution timeout per period (a stuck job or crawl). ${RUNBOOK}#recover-a-failed-pipeline`,
    },
  ];
}

export function deadLetterQueueAlarms(config: AlarmsConfig, queueName: string): AlarmSpec[] {
  return [
    {
      kind: "dead-letter-queue-depth",
      suffix: "depth",
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: queueName },
      statistic: "Maximum",
      threshold: config.deadLetterQueueDepth,
      description: `More than ${config.deadLetterQueueDepth} messages wait in this dead-letter queue: find the cause, then redrive. ${RUNBOOK}#redrive-a-dead-letter-queue`,
    },
  ];
}

/** Freshness metric of each Firehose destination (data not yet delivered, in seconds). */
export const FIREHOSE_FRESHNESS_METRICS: Readonly<Record<string, string>> = {
  extended_s3: "DeliveryToS3.DataFreshness",
  redshift: "DeliveryToS3.DataFreshness", // Redshift loads from an intermediate S3 delivery
  http_endpoint: "DeliveryToHttpEndpoint.DataFreshness",
  opensearch: "DeliveryToAmazonOpenSearchService.DataFreshness",
  opensearchserverless: "DeliveryToAmazonOpenSearchServerless.DataFreshness",
  elasticsearch: "DeliveryToElasticsearch.DataFreshness",
  splunk: "DeliveryToSplunk.DataFreshness",
  snowflake: "DeliveryToSnowflake.DataFreshness",
  iceberg: "DeliveryToIceberg.DataFreshness",
};

export function firehoseAlarms(config: AlarmsConfig, streamName: string, destination: string): AlarmSpec[] {
  const metricName = FIREHOSE_FRESHNESS_METRICS[destination];
  if (!metricName)
    throw new Error(
      `no data-freshness metric is known for Firehose destination "${destination}" (known: ${Object.keys(FIREHOSE_FRESHNESS_METRICS).join(", ")})`,
    );
  return [
    {
      kind: "firehose-freshness",
      suffix: "freshness",
      namespace: "AWS/Firehose",
      metricName,
      dimensions: { DeliveryStreamName: streamName },
      statistic: "Maximum",
      threshold: config.firehoseFreshnessSeconds,
      description: `The oldest undelivered record is older than ${config.firehoseFreshnessSeconds} s: delivery is failing or falling behind. Check the stream's error log group. ${RUNBOOK}`,
    },
  ];
}

export function kinesisAlarms(config: AlarmsConfig, streamName: string): AlarmSpec[] {
  return [
    {
      kind: "kinesis-iterator-age",
      suffix: "iterator-age",
      namespace: "AWS/Kinesis",
      metricName: "GetRecords.IteratorAgeMilliseconds",
      dimensions: { StreamName: streamName },
      statistic: "Maximum",
      threshold: config.kinesisIteratorAgeMs,
      description: `A consumer is more than ${config.kinesisIteratorAgeMs} ms behind the stream: records risk expiring before they are read. ${RUNBOOK}`,
    },
  ];
}

/**
 * A Managed Flink application: not running, not saving state, or reading behind its stream
 * (AWS/KinesisAnalytics metrics at the APPLICATION level the application reports).
 */
export function flinkAlarms(
  thresholds: StreamSqlConfig["alarms"],
  applicationName: string,
  streamName: string,
): AlarmSpec[] {
  const dimensions = { Application: applicationName };
  return [
    {
      kind: "flink-downtime",
      suffix: "downtime",
      namespace: "AWS/KinesisAnalytics",
      metricName: "downtime",
      dimensions,
      statistic: "Maximum",
      threshold: thresholds.downtimeMs,
      description: `The application was not running for more than ${thresholds.downtimeMs} ms: its results stopped. Check its log group for the failure. ${RUNBOOK}`,
    },
    {
      kind: "flink-checkpoint-failures",
      suffix: "checkpoint-failures",
      namespace: "AWS/KinesisAnalytics",
      metricName: "numberOfFailedCheckpoints",
      dimensions,
      statistic: "Maximum",
      threshold: thresholds.checkpointFailures,
      description: `More than ${thresholds.checkpointFailures} failed checkpoints: state is not being saved and results are not being committed. ${RUNBOOK}`,
    },
    {
      kind: "flink-millis-behind-latest",
      suffix: "behind-latest",
      namespace: "AWS/KinesisAnalytics",
      metricName: "millisBehindLatest",
      dimensions: { ...dimensions, Flow: "Input", Id: streamName.replace(/\./g, "_") },
      statistic: "Maximum",
      threshold: thresholds.millisBehindLatest,
      description: `The application reads more than ${thresholds.millisBehindLatest} ms behind its stream: real-time results are late. ${RUNBOOK}`,
    },
  ];
}
