/**
 * The definition of one dataset's pipeline, generated from typed ASL (see asl.ts):
 *
 *   Start → WriteManifest (S3) → RawToProcessed (Glue .sync) → StartCrawler → [WaitForCrawl → GetCrawler]*
 *         → ProcessedToConsumer (Glue .sync) → PublishSucceeded (EventBridge) → Succeeded
 *   any task's Catch → <Step>Failed (records step, error, cause) → NotifyFailure (SNS alerts topic) → PipelineFailed
 *
 * A run processes what started it. `WriteManifest` stores the execution's input verbatim (a Pipe's
 * batch of `{"key"}` records, one raw "Object Created" event, or an operator's `{"reprocess"}`
 * request) as the run's manifest; raw → processed reads only what the manifest names and writes
 * its run summary, whose `touched` partitions processed → consumer rebuilds (run-layout.ts has
 * the paths). Keys stay out of the job arguments: Glue's argument map and the execution state are
 * both far smaller than a full batch.
 *
 * Every Task retries its transient errors with jittered exponential backoff and catches everything
 * else. Two retriers are waits rather than error handling: a Glue job that is already running
 * (the job allows one run at a time, so a second execution queues behind the first instead of
 * overlapping it) and a crawler that is already running (an error, not success: the running crawl
 * may have started before this run's files landed, so the pipeline waits and starts its own).
 */
import { runLayout } from "../shared/run-layout";
import {
  awsSdk,
  eventsPutEvents,
  glueStartJobRunSync,
  snsPublish,
  StateMachineBuilder,
  type Catcher,
  type JsonPath,
  type Retrier,
  type StateMachineDefinition,
} from "./asl";

/** The EventBridge detail-type of the event a pipeline emits when it finishes. */
export const PIPELINE_SUCCEEDED = "Dataset Pipeline Succeeded";

/** Errors worth retrying, per service integration: throttling and the service's own transient failures. */
export const TRANSIENT_ERRORS = {
  glue: ["Glue.InternalServiceException", "Glue.OperationTimeoutException", "Glue.ThrottlingException"],
  sns: ["SNS.InternalErrorException", "SNS.ThrottledException", "SNS.KMSThrottlingException"],
  events: ["EventBridge.InternalException", "EventBridge.FailedEntry", "EventBridge.ThrottlingException"],
  // AWS SDK integrations name errors <Service>.<Error>Exception. S3's throttling (503 SlowDown) and 500s
  // have no modelled exception and come as the SDK's generic S3.S3Exception, so a permanent error
  // (e.g. AccessDenied) is also tried four times, about a minute, before the Catch; S3.SdkClientException
  // is the client's own failure to reach S3 (connection, timeout).
  s3: ["S3.S3Exception", "S3.SdkClientException"],
} as const;

/** Another run of the job holds its single slot, or the account's Glue capacity is used up: wait for it. */
export const JOB_BUSY_ERRORS = [
  "Glue.ConcurrentRunsExceededException",
  "Glue.ResourceNumberLimitExceededException",
] as const;
/** The crawler is already crawling (maybe from before this run's files landed): wait, then start our own crawl. */
export const CRAWLER_BUSY_ERRORS = ["Glue.CrawlerRunningException"] as const;

/** Retry policies, each with why its numbers are what they are. */
export const RETRY = {
  /** Seconds to a minute: what throttling and a service hiccup need. */
  transient: { IntervalSeconds: 5, MaxAttempts: 4, BackoffRate: 2, MaxDelaySeconds: 60, JitterStrategy: "FULL" },
  /** A Glue run takes minutes to hours: wait up to 15 minutes between tries, about seven hours in all (the execution timeout still caps it). */
  jobBusy: { IntervalSeconds: 60, MaxAttempts: 30, BackoffRate: 1.5, MaxDelaySeconds: 900, JitterStrategy: "FULL" },
  /** A raw-zone crawl takes minutes: up to five minutes between tries, about 90 minutes in all. */
  crawlerBusy: { IntervalSeconds: 30, MaxAttempts: 20, BackoffRate: 1.5, MaxDelaySeconds: 300, JitterStrategy: "FULL" },
} as const satisfies Record<string, Omit<Retrier, "ErrorEquals">>;

export interface PipelineDefinitionProps {
  /** Dataset name: in the success event, the alert and its message attributes. */
  readonly dataset: string;
  /** The dataset's folder in every zone, "<name>/". */
  readonly datasetPrefix: string;
  /** Literal name of the quarantine bucket: manifests and run summaries live there (run-layout.ts). */
  readonly runRecordsBucket: string;
  readonly rawToProcessedJobName: string;
  readonly processedToConsumerJobName: string;
  /** The dataset's raw-zone crawler. */
  readonly crawlerName: string;
  /** Failures are published here. */
  readonly alertsTopicArn: string;
  /** `source` of the success event on the default bus. */
  readonly eventSource: string;
  /** Shown in the alert's subject, e.g. "dataplat-prod". */
  readonly subjectPrefix: string;
  /** The whole execution fails as timed out after this. */
  readonly timeoutSeconds: number;
  /** Seconds between crawler status checks. @default 30 */
  readonly crawlerPollSeconds?: number;
  /** A crawl still running after this many minutes fails the pipeline. @default 60 */
  readonly crawlerMaxWaitMinutes?: number;
  /** Partition of the service-integration ARNs (the environment's). @default DEFAULT_PARTITION */
  readonly partition?: string;
}

/** State names, exported so tests and operators' queries name them once. */
export const STEPS = {
  writeManifest: "WriteManifest",
  rawToProcessed: "RawToProcessed",
  startCrawler: "StartCrawler",
  getCrawler: "GetCrawler",
  processedToConsumer: "ProcessedToConsumer",
  publishSucceeded: "PublishSucceeded",
  notifyFailure: "NotifyFailure",
  failed: "PipelineFailed",
} as const;

export function pipelineDefinition(props: PipelineDefinitionProps): StateMachineDefinition {
  const pollSeconds = props.crawlerPollSeconds ?? 30;
  const maxPolls = Math.ceil(((props.crawlerMaxWaitMinutes ?? 60) * 60) / pollSeconds);
  const sm = new StateMachineBuilder(`${props.dataset} pipeline`);

  const retry = (errors: readonly string[], policy: Omit<Retrier, "ErrorEquals">): Retrier => ({
    ErrorEquals: errors,
    ...policy,
  });
  /** Everything not retried lands in `$.failure` and goes to the step's failure record. */
  const catchTo = (step: string): Catcher[] => [
    { ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: `${step}Failed` },
  ];
  /** A Pass that turns the caught { Error, Cause } into the failure record { step, error, cause }. */
  const recordFailure = (step: string) =>
    sm.add(`${step}Failed`, {
      Type: "Pass",
      Comment: `Records that ${step} failed`,
      Parameters: { step, "error.$": "$.failure.Error", "cause.$": "$.failure.Cause" },
      ResultPath: "$.failure",
      Next: STEPS.notifyFailure,
    });
  /** A Glue job run to completion (`.sync`): busy and transient errors retried, the rest caught. */
  const glueJobStep = (
    step: string,
    jobName: string,
    args: Readonly<Record<string, string>>,
    comment: string,
    next: string,
  ) => {
    sm.add(step, {
      Type: "Task",
      Comment: comment,
      ...glueStartJobRunSync(jobName, args, props.partition),
      ResultSelector: { "jobRunId.$": "$.Id", "state.$": "$.JobRunState" },
      ResultPath: `$.${step.charAt(0).toLowerCase()}${step.slice(1)}`,
      Retry: [retry(JOB_BUSY_ERRORS, RETRY.jobBusy), retry(TRANSIENT_ERRORS.glue, RETRY.transient)],
      Catch: catchTo(step),
      Next: next,
    });
    recordFailure(step);
  };

  // Every path of the run carries the execution name: unique per execution, kept by a redrive.
  const bucket = props.runRecordsBucket;
  const byExecution = (key: string) => executionFormat(key, "{name}");
  const uri = (key: string) => byExecution(`s3://${bucket}/${key}`);
  const summary = (job: "raw_to_processed" | "processed_to_consumer") =>
    uri(runLayout.summaryKey(props.datasetPrefix, job, "{name}"));
  sm.add("Start", {
    Type: "Pass",
    Comment: "The run's own record and paths; the triggering events stay in the execution's input",
    Parameters: {
      dataset: props.dataset,
      "execution.$": "$$.Execution.Id",
      "startedAt.$": "$$.Execution.StartTime",
      run: {
        "manifestKey.$": byExecution(runLayout.manifestKey(props.datasetPrefix, "{name}")),
        "manifest.$": uri(runLayout.manifestKey(props.datasetPrefix, "{name}")),
        "rawToProcessedSummary.$": summary("raw_to_processed"),
        "processedToConsumerSummary.$": summary("processed_to_consumer"),
      },
      crawlPolls: { count: 0 },
    },
    Next: STEPS.writeManifest,
  });

  sm.add(STEPS.writeManifest, {
    Type: "Task",
    Comment: "The run's manifest: the execution's input verbatim (landed keys, one S3 event, or a reprocess request)",
    ...awsSdk(
      "s3",
      "putObject",
      {
        Bucket: bucket,
        "Key.$": "$.run.manifestKey",
        "Body.$": "States.JsonToString($$.Execution.Input)",
        ContentType: "application/json",
      },
      props.partition,
    ),
    ResultPath: null,
    Retry: [retry(TRANSIENT_ERRORS.s3, RETRY.transient)],
    Catch: catchTo(STEPS.writeManifest),
    Next: STEPS.rawToProcessed,
  });
  recordFailure(STEPS.writeManifest);

  glueJobStep(
    STEPS.rawToProcessed,
    props.rawToProcessedJobName,
    {
      "--manifest_path.$": "$.run.manifest",
      "--run_id.$": "$$.Execution.Name",
      "--summary_path.$": "$.run.rawToProcessedSummary",
    },
    "Raw → processed: reads what the manifest names; clean, deduplicate, quarantine rejects; its summary lists the partitions it touched",
    STEPS.startCrawler,
  );

  sm.add(STEPS.startCrawler, {
    Type: "Task",
    Comment: "Catalog update: crawl the raw folder (processed and consumer tables use partition projection)",
    ...awsSdk("glue", "startCrawler", { Name: props.crawlerName }, props.partition),
    ResultPath: null,
    Retry: [retry(CRAWLER_BUSY_ERRORS, RETRY.crawlerBusy), retry(TRANSIENT_ERRORS.glue, RETRY.transient)],
    Catch: catchTo("UpdateCatalog"),
    Next: "WaitForCrawl",
  });
  recordFailure("UpdateCatalog");

  sm.add("WaitForCrawl", { Type: "Wait", Seconds: pollSeconds, Next: STEPS.getCrawler });
  sm.add(STEPS.getCrawler, {
    Type: "Task",
    ...awsSdk("glue", "getCrawler", { Name: props.crawlerName }, props.partition),
    ResultPath: "$.crawl",
    Retry: [retry(TRANSIENT_ERRORS.glue, RETRY.transient)],
    Catch: catchTo("UpdateCatalog"),
    Next: "CrawlFinished?",
  });
  // Nested choices: a comparison on a missing path is a runtime error, so presence is checked first.
  sm.add("CrawlFinished?", {
    Type: "Choice",
    Choices: [
      { Variable: "$.crawl.Crawler.State", StringEquals: "READY", Next: "CrawlSucceeded?" },
      { Variable: "$.crawlPolls.count", NumericGreaterThan: maxPolls, Next: "CrawlTookTooLong" },
    ],
    Default: "CountCrawlPoll",
  });
  sm.add("CountCrawlPoll", {
    Type: "Pass",
    Parameters: { "count.$": "States.MathAdd($.crawlPolls.count, 1)" },
    ResultPath: "$.crawlPolls",
    Next: "WaitForCrawl",
  });
  sm.add("CrawlSucceeded?", {
    Type: "Choice",
    Choices: [
      { Not: { Variable: "$.crawl.Crawler.LastCrawl.Status", IsPresent: true }, Next: "CrawlMissing" },
      { Variable: "$.crawl.Crawler.LastCrawl.Status", StringEquals: "SUCCEEDED", Next: "CrawlSucceeded" },
    ],
    Default: "CrawlFailed",
  });
  sm.add("CrawlSucceeded", {
    Type: "Pass",
    Comment: "Keeps only the crawl's outcome: the crawler description is large and the next steps do not need it",
    Parameters: { "status.$": "$.crawl.Crawler.LastCrawl.Status" },
    ResultPath: "$.crawl",
    Next: STEPS.processedToConsumer,
  });
  sm.add("CrawlFailed", {
    Type: "Pass",
    Parameters: {
      step: "UpdateCatalog",
      error: "CrawlNotSucceeded",
      "cause.$": `States.Format('crawler ${props.crawlerName} finished its crawl with {} (see its LastCrawl for the error)', $.crawl.Crawler.LastCrawl.Status)`,
    },
    ResultPath: "$.failure",
    Next: STEPS.notifyFailure,
  });
  sm.add("CrawlMissing", {
    Type: "Pass",
    Parameters: {
      step: "UpdateCatalog",
      error: "CrawlNotSucceeded",
      cause: `crawler ${props.crawlerName} is idle and reports no last crawl`,
    },
    ResultPath: "$.failure",
    Next: STEPS.notifyFailure,
  });
  sm.add("CrawlTookTooLong", {
    Type: "Pass",
    Parameters: {
      step: "UpdateCatalog",
      error: "CrawlTimedOut",
      cause: `crawler ${props.crawlerName} was still running after ${props.crawlerMaxWaitMinutes ?? 60} minutes`,
    },
    ResultPath: "$.failure",
    Next: STEPS.notifyFailure,
  });

  glueJobStep(
    STEPS.processedToConsumer,
    props.processedToConsumerJobName,
    {
      "--partitions_path.$": "$.run.rawToProcessedSummary",
      "--run_id.$": "$$.Execution.Name",
      "--summary_path.$": "$.run.processedToConsumerSummary",
    },
    "Processed → consumer: rebuilds the contract's view for exactly the partitions raw → processed touched",
    STEPS.publishSucceeded,
  );

  sm.add(STEPS.publishSucceeded, {
    Type: "Task",
    Comment: "Tells subscribers the consumer zone has this run's data",
    ...eventsPutEvents(
      [
        {
          Source: props.eventSource,
          DetailType: PIPELINE_SUCCEEDED,
          Detail: {
            dataset: props.dataset,
            status: "SUCCEEDED",
            "execution.$": "$.execution",
            "startedAt.$": "$.startedAt",
            "rawToProcessedRunId.$": "$.rawToProcessed.jobRunId",
            "processedToConsumerRunId.$": "$.processedToConsumer.jobRunId",
            // What the run read, and where each job says what it wrote and set aside (quarantined rows, unreadable objects).
            "manifest.$": "$.run.manifest",
            "rawToProcessedSummary.$": "$.run.rawToProcessedSummary",
            "processedToConsumerSummary.$": "$.run.processedToConsumerSummary",
          },
        },
      ],
      props.partition,
    ),
    ResultPath: null,
    Retry: [retry(TRANSIENT_ERRORS.events, RETRY.transient)],
    Catch: catchTo(STEPS.publishSucceeded),
    Next: "Succeeded",
  });
  recordFailure(STEPS.publishSucceeded);
  sm.add("Succeeded", { Type: "Succeed" });

  const failurePath = (field: string): JsonPath => `$.failure.${field}`;
  sm.add(STEPS.notifyFailure, {
    Type: "Task",
    Comment: "Alerts through SNS: which dataset, step and error, and how to redrive",
    ...snsPublish(
      {
        TopicArn: props.alertsTopicArn,
        Subject: `${props.subjectPrefix} pipeline ${props.dataset} failed`.slice(0, 100),
        Message: {
          dataset: props.dataset,
          "execution.$": "$.execution",
          "step.$": failurePath("step"),
          "error.$": failurePath("error"),
          "cause.$": failurePath("cause"),
          "manifest.$": "$.run.manifest",
          // Not `aws stepfunctions redrive-execution`: a Catch handled the error, so a redrive would continue
          // at PipelineFailed and fail again; pipeline:rerun re-runs the execution's landing instead.
          "redrive.$": "States.Format('npm run pipeline:rerun -- --redrive {}', $.execution)",
        },
        MessageAttributes: {
          dataset: { DataType: "String", StringValue: props.dataset },
          step: { DataType: "String", "StringValue.$": failurePath("step") },
        },
      },
      props.partition,
    ),
    ResultPath: null,
    Retry: [retry(TRANSIENT_ERRORS.sns, RETRY.transient)],
    // The alert itself failed: the execution still fails (and the failed-executions alarm sees it).
    Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.notifyFailure", Next: STEPS.failed }],
    Next: STEPS.failed,
  });
  sm.add(STEPS.failed, { Type: "Fail", Error: "PipelineFailed", CausePath: failurePath("cause") });

  return sm.build("Start", {
    comment: `${props.dataset}: manifest → raw → processed → catalog → consumer, then a success event; failures alert through SNS`,
    timeoutSeconds: props.timeoutSeconds,
  });
}

/**
 * `States.Format` of `text` with every `{name}` replaced by the execution's name. Literal text is
 * escaped as the intrinsic requires (`'`, `{`, `}` and `\\` take a backslash).
 */
function executionFormat(text: string, placeholder: string): string {
  if (!text.includes(placeholder)) throw new Error(`"${text}" has no ${placeholder}`);
  const parts = text.split(placeholder).map((part) => part.replace(/[\\'{}]/g, (c) => `\\${c}`));
  const args = Array.from({ length: parts.length - 1 }, () => "$$.Execution.Name");
  return `States.Format('${parts.join("{}")}', ${args.join(", ")})`;
}
