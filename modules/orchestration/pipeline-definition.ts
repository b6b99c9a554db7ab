/**
 * The definition of one dataset's pipeline, generated from typed ASL (see asl.ts):
 *
 *   Start → RawToProcessed (Glue .sync) → StartCrawler → [WaitForCrawl → GetCrawler]* → ProcessedToConsumer (Glue .sync)
 *         → PublishSucceeded (EventBridge) → Succeeded
 *   any task's Catch → <Step>Failed (records step, error, cause) → NotifyFailure (SNS alerts topic) → PipelineFailed
 *
 * Every Task retries its transient errors with jittered exponential backoff and catches everything
 * else. Two retriers are waits rather than error handling: a Glue job that is already running
 * (the job allows one run at a time, so a second execution queues behind the first instead of
 * overlapping it) and a crawler that is already running (an error, not success: the running crawl
 * may have started before this run's files landed, so the pipeline waits and starts its own).
 */
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
} as const;

/** Another run of the job holds its single slot, or the account's Glue capacity is used up: wait for it. */
export const JOB_BUSY_ERRORS = ["Glue.ConcurrentRunsExceededException", "Glue.ResourceNumberLimitExceededException"] as const;
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
}

/** State names, exported so tests and operators' queries name them once. */
export const STEPS = {
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

  const retry = (errors: readonly string[], policy: Omit<Retrier, "ErrorEquals">): Retrier => ({ ErrorEquals: errors, ...policy });
  /** Everything not retried lands in `$.failure` and goes to the step's failure record. */
  const catchTo = (step: string): Catcher[] => [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: `${step}Failed` }];
  /** A Pass that turns the caught { Error, Cause } into the failure record { step, error, cause }. */
  const recordFailure = (step: string) =>
    sm.add(`${step}Failed`, {
      Type: "Pass",
      Comment: `Records that ${step} failed`,
      Parameters: { step, "error.$": "$.failure.Error", "cause.$": "$.failure.Cause" },
      ResultPath: "$.failure",
      Next: STEPS.notifyFailure,
    });

  sm.add("Start", {
    Type: "Pass",
    Comment: "The run's own record; the triggering events stay in the execution's input",
    Parameters: {
      dataset: props.dataset,
      "execution.$": "$$.Execution.Id",
      "startedAt.$": "$$.Execution.StartTime",
      crawlPolls: { count: 0 },
    },
    Next: STEPS.rawToProcessed,
  });

  sm.add(STEPS.rawToProcessed, {
    Type: "Task",
    Comment: "Raw → processed: clean, deduplicate, quarantine rejects",
    ...glueStartJobRunSync(props.rawToProcessedJobName),
    ResultSelector: { "jobRunId.$": "$.Id", "state.$": "$.JobRunState" },
    ResultPath: "$.rawToProcessed",
    Retry: [retry(JOB_BUSY_ERRORS, RETRY.jobBusy), retry(TRANSIENT_ERRORS.glue, RETRY.transient)],
    Catch: catchTo(STEPS.rawToProcessed),
    Next: STEPS.startCrawler,
  });
  recordFailure(STEPS.rawToProcessed);

  sm.add(STEPS.startCrawler, {
    Type: "Task",
    Comment: "Catalog update: crawl the raw folder (processed and consumer tables use partition projection)",
    ...awsSdk("glue", "startCrawler", { Name: props.crawlerName }),
    ResultPath: null,
    Retry: [retry(CRAWLER_BUSY_ERRORS, RETRY.crawlerBusy), retry(TRANSIENT_ERRORS.glue, RETRY.transient)],
    Catch: catchTo("UpdateCatalog"),
    Next: "WaitForCrawl",
  });
  recordFailure("UpdateCatalog");

  sm.add("WaitForCrawl", { Type: "Wait", Seconds: pollSeconds, Next: STEPS.getCrawler });
  sm.add(STEPS.getCrawler, {
    Type: "Task",
    ...awsSdk("glue", "getCrawler", { Name: props.crawlerName }),
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
    Parameters: { step: "UpdateCatalog", error: "CrawlNotSucceeded", cause: `crawler ${props.crawlerName} is idle and reports no last crawl` },
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

  sm.add(STEPS.processedToConsumer, {
    Type: "Task",
    Comment: "Processed → consumer: the contract's curated or aggregate view",
    ...glueStartJobRunSync(props.processedToConsumerJobName),
    ResultSelector: { "jobRunId.$": "$.Id", "state.$": "$.JobRunState" },
    ResultPath: "$.processedToConsumer",
    Retry: [retry(JOB_BUSY_ERRORS, RETRY.jobBusy), retry(TRANSIENT_ERRORS.glue, RETRY.transient)],
    Catch: catchTo(STEPS.processedToConsumer),
    Next: STEPS.publishSucceeded,
  });
  recordFailure(STEPS.processedToConsumer);

  sm.add(STEPS.publishSucceeded, {
    Type: "Task",
    Comment: "Tells subscribers the consumer zone has this run's data",
    ...eventsPutEvents([
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
        },
      },
    ]),
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
    ...snsPublish({
      TopicArn: props.alertsTopicArn,
      Subject: `${props.subjectPrefix} pipeline ${props.dataset} failed`.slice(0, 100),
      Message: {
        dataset: props.dataset,
        "execution.$": "$.execution",
        "step.$": failurePath("step"),
        "error.$": failurePath("error"),
        "cause.$": failurePath("cause"),
        "redrive.$": "States.Format('aws stepfunctions redrive-execution --execution-arn {}', $.execution)",
      },
      MessageAttributes: {
        dataset: { DataType: "String", StringValue: props.dataset },
        step: { DataType: "String", "StringValue.$": failurePath("step") },
      },
    }),
    ResultPath: null,
    Retry: [retry(TRANSIENT_ERRORS.sns, RETRY.transient)],
    // The alert itself failed: the execution still fails (and the failed-executions alarm sees it).
    Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.notifyFailure", Next: STEPS.failed }],
    Next: STEPS.failed,
  });
  sm.add(STEPS.failed, { Type: "Fail", Error: "PipelineFailed", CausePath: failurePath("cause") });

  return sm.build("Start", {
    comment: `${props.dataset}: raw → processed → catalog → consumer, then a success event; failures alert through SNS`,
    timeoutSeconds: props.timeoutSeconds,
  });
}
