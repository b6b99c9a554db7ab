/**
 * Defaults shared by every environment, each with the reason it was chosen.
 * An environment file states only what differs (see dev.ts, staging.ts, prod.ts, local.ts).
 * Secure and cheap by default: an environment has to opt in to anything destructive or costly.
 */
import type { EnvironmentOverride } from "./types";

export const base: EnvironmentOverride = {
  project: "dataplat", // short: it prefixes every resource name, and S3/Glue names have length limits
  region: "eu-west-1",
  partition: "aws", // the commercial partition: every region the schema accepts is in it
  owner: "data-platform-team",
  costCentre: "cc-data-platform",
  tags: {},
  protection: {
    forceDestroy: false, // never delete non-empty buckets unless an environment says it is disposable
    preventDestroy: false, // prod turns this on; elsewhere a destroy must stay possible
  },
  partitioning: {
    // Daily partitions: the common query is "one day", and daily files stay large enough for Parquet.
    keys: [{ name: "dt", type: "date", format: "yyyy-MM-dd", rangeStart: "2024-01-01" }],
  },
  lake: {
    lifecycle: {
      // Raw is the replayable source of truth: cool it early, keep it a year.
      raw: { infrequentAccessAfterDays: 30, archiveAfterDays: 90, expireAfterDays: 365 },
      // Processed is rebuilt from raw when needed; cool it, never expire it implicitly.
      processed: { infrequentAccessAfterDays: 60 },
      // Consumer data is what analysts query; keep it in STANDARD until it is clearly cold.
      consumer: { infrequentAccessAfterDays: 90 },
      // Rejected rows are for triage; keep them long enough to fix and replay, then drop them.
      quarantine: { expireAfterDays: 90 },
    },
    noncurrentVersionExpirationDays: 30, // versioning protects against mistakes, not as an archive
    accessLogRetentionDays: 365, // one audit year
  },
  athena: {
    engineVersion: "Athena engine version 3", // pinned: engine upgrades change SQL semantics
    resultsRetentionDays: 7, // results are re-creatable and may hold sensitive extracts
  },
  catalog: {
    crawlerSchedule: "cron(15 2 * * ? *)", // daily after the nightly extracts; new folders only, so it stays cheap
  },
  lakeFormation: {
    enabled: false, // opt-in: Lake Formation changes who can read what, so an environment turns it on deliberately
    admins: [],
    consumers: [],
  },
  redshift: {
    enabled: true, // the warehouse is part of the platform; an environment must say why it goes without
    baseCapacityRpu: 8, // the smallest base that serves Spectrum queries over < 128 TB
    maxCapacityRpu: 64, // cost ceiling: scaling beyond it needs a config change someone reviews
  },
  quicksight: {
    enabled: false, // opt-in: QuickSight is a per-account subscription the platform cannot create
  },
  network: {
    mode: "create", // a private VPC of our own unless the environment adopts a shared one
    cidr: "10.0.0.0/16",
    availabilityZones: ["a", "b", "c"], // Redshift Serverless needs subnets in three AZs
  },
  ingestion: {
    api: {
      baseUrl: "https://api.carrier.example", // placeholder: the carrier's API; each environment names its own
      schedule: "rate(1 hour)", // tracking updates arrive all day; hourly keeps raw within the hour of the API
      timeoutSeconds: 300, // a run pages a few thousand records in about a minute; five leaves room for retries
      memoryMb: 512, // pages are parsed and gzipped in memory; 512 MB also buys a faster CPU share
      reservedConcurrency: 1, // one run per dataset at a time: runs never overlap, and a runaway cannot starve the account
      maxAttempts: 5, // five tries over ~15 s ride out throttling and brief outages without hiding a real one
      backoffBaseMs: 500, // 0.5, 1, 2, 4 s (full jitter) between attempts
      requestTimeoutSeconds: 30, // a page that takes longer is treated like a 5xx and retried
      maxPages: 1000, // a guard against a pagination loop; a run that hits it stops and says so
      maxPageBytes: 10 * 1024 * 1024, // a larger response is not a page of records: quarantined, not parsed
      maxRecordBytes: 256 * 1024, // a tracking update is under 2 KB; anything this large is garbage
      asyncRetryAttempts: 2, // Lambda's default: crashes (not API errors, which the handler retries) get two more tries
      maxEventAgeSeconds: 3600, // a run older than the schedule's period is superseded by the next one
      logLevel: "INFO",
    },
    glue: {
      version: "5.0", // Spark 3.5 / Python 3.11: what the PySpark tests run
      workerType: "G.1X", // 4 vCPU, 16 GB: enough for daily partitions of every dataset
      numberOfWorkers: 2, // the minimum; environments with real volume raise it
      timeoutMinutes: 120, // a daily run takes minutes; two hours means it is stuck
      maxRetries: 1, // one retry rides out a lost executor; more would hide a real failure
      maxConcurrentRuns: 1, // runs of one dataset's job never overlap: raw → processed merges into stored partitions, and a bookmarked extract must not read one increment twice
      bookmarks: "enable", // the RDS extract is incremental through bookmarks
      metrics: true, // job metrics feed the failure and duration alarms
      continuousLogging: true, // driver logs while the run is live, not only after it ends
    },
    extracts: {
      // Nightly, off-peak for the source databases: the contracts declare nightly increments, and the
      // 02:15 crawl finds what the extracts landed.
      schedule: "cron(0 1 * * ? *)",
      retryAttempts: 3, // rides out throttling and a previous run still finishing, with Scheduler's backoff
      maxEventAgeSeconds: 3600, // a start that cannot be made within the hour waits in the dead-letter queue for an operator
    },
    rds: {
      jdbcUrl: "jdbc:postgresql://source-db.internal.example:5432/source", // placeholder: each environment names its database
      databaseCidr: "10.0.0.0/16", // placeholder: where that database lives
    },
    kinesis: {
      capacityMode: "ON_DEMAND", // traffic follows the day; on-demand scales without shard planning
      retentionHours: 24, // Firehose drains within minutes; a day covers an outage of the delivery path
    },
    firehose: {
      bufferingSizeMb: 64, // the minimum with dynamic partitioning: fresher files
      bufferingIntervalSeconds: 300, // five minutes: files large enough for the raw → processed job
      parquetConversion: false, // raw keeps records as they came; the Glue job validates and converts them
    },
    emrServerless: {
      enabled: false, // opt-in: only environments that run persistent heavy work need it
      releaseLabel: "emr-7.5.0", // Spark 3.5, the line the Glue jobs are tested on
      maxCapacity: { cpuVcpu: 32, memoryGb: 128 }, // cost ceiling; raising it is a reviewed change
      autoStopMinutes: 15, // an idle application stops costing after a quarter of an hour
    },
  },
  streamSql: {
    enabled: false, // opt-in: each environment says whether it runs real-time SQL (and, if not, why)
    parallelism: 1, // two small window aggregates per stream: one task keeps up with thousands of events a second
    parallelismPerKpu: 1, // Managed Flink's default: a whole KPU (1 vCPU, 4 GB) per task
    autoScaling: true, // traffic follows the day; Managed Flink adds KPUs under load
    checkpointIntervalSeconds: 60, // results become readable at checkpoints; a restart replays at most a minute
    snapshots: true, // a deploy or stop keeps open windows instead of starting them empty
    alarms: {
      downtimeMs: 0, // any time not running means results stop
      checkpointFailures: 0, // one failed checkpoint means state is not being saved
      millisBehindLatest: 120_000, // two minutes behind: per-minute results are late
    },
  },
  alarms: {
    notify: "record", // outside prod nobody is paged; alarm history is still kept
    periodSeconds: 300,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    // Every alarm fires when a period's value is above its threshold: 0 means the first one alarms.
    lambdaErrors: 0, // any error is worth a look in a pipeline that must not lose data
    lambdaThrottles: 0, // a throttled ingest is a delayed ingest
    lambdaDurationPercentOfTimeout: 80, // leave time to finish before the hard timeout
    deadLetterQueueDepth: 0, // one dead letter means data is waiting for a redrive
    firehoseFreshnessSeconds: 900, // three default buffer intervals
    kinesisIteratorAgeMs: 300_000, // five minutes behind the stream
    glueJobFailures: 0, // a failed job leaves a partition stale
    stateMachineFailures: 0, // a failed pipeline already alerted once; the alarm keeps it visible until it is fixed
  },
  orchestration: {
    batching: {
      enabled: true, // a burst of landings becomes one execution, not one per object
      batchSize: 1000, // the most a 256 KiB execution input holds with room to spare (one object key per record)
      windowSeconds: 300, // Pipes' longest wait: fewer, larger runs; raw data is minutes old at most
    },
    executionTimeoutMinutes: 360, // two Glue jobs and a crawl; a run past six hours is stuck, not slow
    logExecutionData: true, // outside prod, state inputs and outputs in the logs make a failure easy to read
    maxReceiveCount: 5, // five tries absorb a consumer's transient failures; then the message waits in the DLQ
    crawlerPollSeconds: 30, // a crawl of new partitions takes a minute or two: polls every 30 s cost a few state transitions
  },
  logs: {
    retentionDays: 30,
  },
};
