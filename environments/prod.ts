import type { EnvironmentDefinition } from "./types";

/** Production: protected data, paging alarms, region sub-partitions, long retention. */
export const prod: EnvironmentDefinition = {
  name: "prod",
  tier: "prod",
  accountId: "333333333333",
  state: { backend: "s3", bucket: "dataplat-tfstate-333333333333", region: "eu-west-1" },
  protection: { forceDestroy: false, preventDestroy: true },
  partitioning: {
    // Region sub-partitions: regional teams query their own slice of a day.
    keys: [
      { name: "dt", type: "date", format: "yyyy-MM-dd", rangeStart: "2024-01-01" },
      { name: "region", type: "enum", values: ["eu", "us", "apac"] },
    ],
  },
  lake: {
    lifecycle: {
      raw: { infrequentAccessAfterDays: 30, archiveAfterDays: 180, expireAfterDays: 2555 }, // seven audit years
      quarantine: { expireAfterDays: 180 },
    },
    noncurrentVersionExpirationDays: 90,
    accessLogRetentionDays: 2555,
  },
  athena: { bytesScannedCutoffPerQuery: 100 * 1024 ** 3, resultsRetentionDays: 30 },
  alarms: {
    notify: "page",
    periodSeconds: 60,
    evaluationPeriods: 5,
    datapointsToAlarm: 3, // 3 of 5 minutes: pages on a trend, not on one blip
    lambdaDurationPercentOfTimeout: 70,
    firehoseFreshnessSeconds: 600,
    kinesisIteratorAgeMs: 60_000,
  },
  orchestration: { logExecutionData: false }, // record data stays out of production logs
  catalog: { crawlerSchedule: "cron(15 * * * ? *)" }, // hourly: raw data is queryable within the hour
  lakeFormation: {
    enabled: true,
    admins: ["arn:aws:iam::333333333333:role/dataplat-deploy"],
    consumers: ["arn:aws:iam::333333333333:role/dataplat-analysts"],
  },
  redshift: { baseCapacityRpu: 32, maxCapacityRpu: 256 }, // 32+ RPUs for wide tables and concurrent dashboards
  quicksight: {
    enabled: true,
    principalArn: "arn:aws:quicksight:eu-west-1:333333333333:group/default/dataplat-analysts",
  },
  network: { cidr: "10.30.0.0/16" },
  ingestion: {
    api: { schedule: "rate(15 minutes)", memoryMb: 1024 }, // tracking pages within a quarter hour; more memory, faster gzip
    glue: { workerType: "G.2X", numberOfWorkers: 10 }, // production volume: a day of the largest extract in minutes
    rds: { jdbcUrl: "jdbc:postgresql://orders-db.prod.internal.example:5432/orders", databaseCidr: "10.130.0.0/16" }, // peered production database VPC
    kinesis: { retentionHours: 168 }, // a week of replay if delivery breaks over a weekend
    emrServerless: { enabled: true, maxCapacity: { cpuVcpu: 200, memoryGb: 800 } },
  },
  streamSql: { enabled: true, parallelism: 2 }, // two tasks: one subtask's restart does not stall every key
  logs: { retentionDays: 365 },
};
