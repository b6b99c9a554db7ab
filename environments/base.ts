/**
 * Defaults shared by every environment, each with the reason it was chosen.
 * An environment file states only what differs (see dev.ts, staging.ts, prod.ts, local.ts).
 * Secure and cheap by default: an environment has to opt in to anything destructive or costly.
 */
import type { EnvironmentOverride } from "./types";

export const base: EnvironmentOverride = {
  project: "dataplat", // short: it prefixes every resource name, and S3/Glue names have length limits
  region: "eu-west-1",
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
  },
  logs: {
    retentionDays: 30,
  },
};
