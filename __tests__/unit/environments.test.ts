import { ConfigError, ENVIRONMENTS, EnvironmentOverride, loadEnvironments, stateKey } from "../../environments";
import { dev } from "../../environments/dev";
import { local } from "../../environments/local";
import { prod } from "../../environments/prod";
import { staging } from "../../environments/staging";

/** The ConfigError message for a set of environment definitions, or a failure if they are valid. */
function errorOf(...definitions: EnvironmentOverride[]): string {
  try {
    loadEnvironments(definitions);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected the configuration to be rejected");
}

/** The single problem line of a one-problem ConfigError. */
function problemOf(...definitions: EnvironmentOverride[]): string {
  const message = errorOf(...definitions);
  const lines = message.split("\n").slice(1);
  expect(lines).toHaveLength(1);
  return lines[0].replace(/^ {2}- /, "");
}

describe("shipped environments", () => {
  const envs = loadEnvironments();
  const byName = Object.fromEntries(envs.map((e) => [e.name, e]));

  it("are dev, staging, prod and local, all valid", () => {
    expect(envs.map((e) => e.name)).toEqual(["dev", "staging", "prod", "local"]);
  });

  it("inherit base defaults they do not override", () => {
    expect(byName.dev.lake.lifecycle.raw).toEqual({ infrequentAccessAfterDays: 30, archiveAfterDays: 90, expireAfterDays: 365 });
    expect(byName.dev.alarms.notify).toBe("record");
    expect(byName.staging.project).toBe("dataplat");
  });

  it("differ as DESIGN.md §2 says: partitioning, alarms, guards, protection, state", () => {
    const summary = Object.fromEntries(
      envs.map((e) => [
        e.name,
        {
          partitions: e.partitioning.keys.map((k) => k.name).join("+"),
          notify: e.alarms.notify,
          cutoffGiB: e.athena.bytesScannedCutoffPerQuery ? e.athena.bytesScannedCutoffPerQuery / 1024 ** 3 : undefined,
          forceDestroy: e.protection.forceDestroy,
          preventDestroy: e.protection.preventDestroy,
          backend: e.state.backend,
          logDays: e.logs.retentionDays,
        },
      ]),
    );
    expect(summary).toEqual({
      dev: { partitions: "dt", notify: "record", cutoffGiB: 1, forceDestroy: true, preventDestroy: false, backend: "s3", logDays: 14 },
      staging: { partitions: "dt+region", notify: "record", cutoffGiB: 10, forceDestroy: false, preventDestroy: false, backend: "s3", logDays: 30 },
      prod: { partitions: "dt+region", notify: "page", cutoffGiB: 100, forceDestroy: false, preventDestroy: true, backend: "s3", logDays: 365 },
      local: { partitions: "dt+region", notify: "record", cutoffGiB: undefined, forceDestroy: true, preventDestroy: false, backend: "local", logDays: 1 },
    });
  });

  it("differ in catalog, Lake Formation, warehouse, BI and network as configured", () => {
    const summary = Object.fromEntries(
      envs.map((e) => [
        e.name,
        {
          crawlers: e.catalog.crawlerSchedule,
          lakeFormation: e.lakeFormation.enabled,
          redshift: e.redshift.enabled ? `${e.redshift.baseCapacityRpu}-${e.redshift.maxCapacityRpu} RPU` : `off: ${e.redshift.disabledReason}`,
          quicksight: e.quicksight.enabled,
          network: e.network.mode === "create" ? `${e.network.cidr} in ${e.network.availabilityZones.length} AZs` : `adopt ${e.network.vpcId}`,
        },
      ]),
    );
    expect(summary).toEqual({
      dev: { crawlers: "cron(15 2 * * ? *)", lakeFormation: false, redshift: "8-32 RPU", quicksight: false, network: "10.10.0.0/16 in 3 AZs" },
      staging: { crawlers: "cron(15 2 * * ? *)", lakeFormation: true, redshift: "8-64 RPU", quicksight: false, network: "adopt vpc-0a1b2c3d4e5f60718" },
      prod: { crawlers: "cron(15 * * * ? *)", lakeFormation: true, redshift: "32-256 RPU", quicksight: true, network: "10.30.0.0/16 in 3 AZs" },
      local: {
        crawlers: "cron(15 2 * * ? *)",
        lakeFormation: false,
        redshift: "off: the emulator (moto 5.2.1) has no Redshift Serverless API: terraform apply would hang waiting for the workgroup",
        quicksight: false,
        network: "10.99.0.0/16 in 2 AZs",
      },
    });
  });

  it("keep state apart: one key per environment", () => {
    const keys = envs.map((e) => stateKey(e));
    expect(new Set(keys).size).toBe(keys.length);
    expect(stateKey(byName.prod)).toBe("dataplat/prod/terraform.tfstate");
  });

  it("are listed in promotion order", () => {
    expect(ENVIRONMENTS.map((e) => e.name)).toEqual(["dev", "staging", "prod", "local"]);
  });
});

describe("a bad environment config fails with env, field and rule", () => {
  const cases: [string, EnvironmentOverride, string][] = [
    ["malformed account id", { ...prod, accountId: "12345" }, 'prod: accountId: must be a 12-digit AWS account id (got "12345")'],
    ["unknown region", { ...dev, region: "eu-west-9" as never }, 'dev: region: must be a known AWS region (got "eu-west-9")'],
    [
      "prod without an Athena bytes-scanned cutoff",
      { ...prod, athena: { resultsRetentionDays: 30 } },
      "prod: athena.bytesScannedCutoffPerQuery: is required in prod: every production query needs a scan cutoff",
    ],
    ["negative alarm threshold", { ...dev, alarms: { lambdaErrors: -1 } }, "dev: alarms.lambdaErrors: must be ≥ 0 (got -1)"],
    ["empty partition spec", { ...dev, partitioning: { keys: [] } }, "dev: partitioning.keys: must list at least one partition key (got [])"],
    [
      "force-destroy in prod",
      { ...prod, protection: { forceDestroy: true, preventDestroy: true } },
      "prod: protection.forceDestroy: must be false in prod: production data is never force-deleted",
    ],
    [
      "non-local environment without an account id",
      { ...staging, accountId: undefined },
      "staging: accountId: is required outside local: the provider must refuse any other account",
    ],
    [
      "partition spec not starting with a date",
      { ...dev, partitioning: { keys: [{ name: "region", type: "enum", values: ["eu"] }] } },
      'dev: partitioning.keys[0].type: the first partition key must be a date so every query can prune by day (got "enum")',
    ],
    [
      "archive tier before the infrequent-access tier",
      { ...dev, lake: { lifecycle: { raw: { infrequentAccessAfterDays: 60, archiveAfterDays: 40 } } } },
      "dev: lake.lifecycle.raw.archiveAfterDays: must be later than infrequentAccessAfterDays (60) (got 40)",
    ],
    [
      "infrequent access before day 30",
      { ...dev, lake: { lifecycle: { processed: { infrequentAccessAfterDays: 10 } } } },
      "dev: lake.lifecycle.processed.infrequentAccessAfterDays: must be ≥ 30: S3 does not move objects to STANDARD_IA earlier (got 10)",
    ],
    [
      "log retention CloudWatch does not offer",
      { ...dev, logs: { retentionDays: 45 } },
      "dev: logs.retentionDays: must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653) (got 45)",
    ],
    ["prod alarms that page nobody", { ...prod, alarms: { notify: "record" } }, 'prod: alarms.notify: must be "page" in prod: production alarms must reach on-call'],
    [
      "Athena cutoff below the service minimum",
      { ...dev, athena: { bytesScannedCutoffPerQuery: 1000 } },
      "dev: athena.bytesScannedCutoffPerQuery: must be ≥ 10485760 bytes: Athena's smallest cutoff is 10 MB (got 1000)",
    ],
    [
      "more datapoints than evaluation periods",
      { ...dev, alarms: { evaluationPeriods: 2, datapointsToAlarm: 3 } },
      "dev: alarms.datapointsToAlarm: must not exceed evaluationPeriods (2) (got 3)",
    ],
    ["overriding a required tag", { ...dev, tags: { owner: "someone-else" } }, "dev: tags.owner: is set by the platform and cannot be overridden"],
    [
      "shared environment on a local state file",
      { ...staging, state: { backend: "local", path: "x.tfstate" } },
      'staging: state.backend: must be "s3" outside local: shared state needs a remote, locked backend',
    ],
    ["a duration alarm above 100 %", { ...dev, alarms: { lambdaDurationPercentOfTimeout: 150 } }, "dev: alarms.lambdaDurationPercentOfTimeout: must be a percentage between 1 and 100 (got 150)"],
    ["an unknown tier", { ...dev, tier: "production" as never }, 'dev: tier: must be one of local, nonprod, prod (got "production")'],
    ["an invalid environment name", { ...dev, name: "Dev_1" }, 'Dev_1: name: must be lowercase letters and digits, starting with a letter, at most 10 characters (got "Dev_1")'],
    [
      "an enum partition key without values",
      { ...dev, partitioning: { keys: [{ name: "dt", type: "date", format: "yyyy-MM-dd", rangeStart: "2024-01-01" }, { name: "region", type: "enum", values: [] }] } },
      "dev: partitioning.keys[1].values: must list at least one value (got [])",
    ],
    // orchestration
    [
      "a pipeline batch bigger than one execution input holds",
      { ...dev, orchestration: { batching: { batchSize: 5000 } } },
      "dev: orchestration.batching.batchSize: must be ≤ 1000: a batch is one execution's input, which Step Functions caps at 256 KiB (got 5000)",
    ],
    [
      "a batching window longer than Pipes waits",
      { ...dev, orchestration: { batching: { windowSeconds: 600 } } },
      "dev: orchestration.batching.windowSeconds: must be ≤ 300 seconds: EventBridge Pipes waits at most five minutes (got 600)",
    ],
    [
      "a large batch without a batching window",
      { ...dev, orchestration: { batching: { batchSize: 100, windowSeconds: 0 } } },
      "dev: orchestration.batching.windowSeconds: must be ≥ 1 when batchSize is above 10 (100): EventBridge Pipes requires a batching window for larger SQS batches (got 0)",
    ],
    [
      "batching turned off without a reason",
      { ...dev, orchestration: { batching: { enabled: false } } },
      "dev: orchestration.batching.disabledReason: is required when batching is turned off: say why this environment starts one execution per object",
    ],
    [
      "a batching reason while batching is on",
      { ...dev, orchestration: { batching: { disabledReason: "because I said so, twice" } } },
      "dev: orchestration.batching.disabledReason: must be omitted when batching is enabled",
    ],
    [
      "prod logging execution data",
      { ...prod, orchestration: { logExecutionData: true } },
      "prod: orchestration.logExecutionData: must be false in prod: execution inputs and outputs can carry record data into the logs",
    ],
    [
      "an execution timeout shorter than a pipeline can run",
      { ...dev, orchestration: { executionTimeoutMinutes: 2 } },
      "dev: orchestration.executionTimeoutMinutes: must be ≥ 5 minutes: two Glue jobs and a crawl never finish sooner (got 2)",
    ],
    [
      "an execution timeout past a Standard workflow's year",
      { ...dev, orchestration: { executionTimeoutMinutes: 600_000 } },
      "dev: orchestration.executionTimeoutMinutes: must be ≤ 525600 minutes: a Standard workflow runs for at most a year (got 600000)",
    ],
    [
      "a redrive count SQS refuses",
      { ...dev, orchestration: { maxReceiveCount: 0 } },
      "dev: orchestration.maxReceiveCount: must be ≥ 1 (got 0)",
    ],
    // catalog, Lake Formation, warehouse, BI, network
    [
      "a crawler schedule that is not a Glue cron",
      { ...dev, catalog: { crawlerSchedule: "daily" } },
      'dev: catalog.crawlerSchedule: must be a Glue cron expression "cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)" (got "daily")',
    ],
    [
      "a crawler schedule with both day fields set",
      { ...dev, catalog: { crawlerSchedule: "cron(0 2 * * * *)" } },
      'dev: catalog.crawlerSchedule: must set exactly one of day-of-month and day-of-week to "?" (got "cron(0 2 * * * *)")',
    ],
    [
      "a Redshift base capacity that is not a step Redshift offers",
      { ...dev, redshift: { baseCapacityRpu: 12 } },
      "dev: redshift.baseCapacityRpu: must be 4, a multiple of 8 from 8 to 512, or a multiple of 32 up to 1024 RPUs (got 12)",
    ],
    ["a Redshift ceiling below its base", { ...prod, redshift: { baseCapacityRpu: 32, maxCapacityRpu: 16 } }, "prod: redshift.maxCapacityRpu: must be ≥ baseCapacityRpu (32) (got 16)"],
    [
      "Redshift turned off without a reason",
      { ...dev, redshift: { enabled: false } },
      "dev: redshift.disabledReason: is required when redshift is turned off: say why this environment has no warehouse",
    ],
    ["a reason for turning off an enabled Redshift", { ...dev, redshift: { disabledReason: "no budget this quarter" } }, "dev: redshift.disabledReason: must be omitted when redshift is enabled"],
    [
      "QuickSight enabled without a principal",
      { ...dev, quicksight: { enabled: true } },
      "dev: quicksight.principalArn: is required when quicksight is enabled: someone must be able to use the datasets",
    ],
    [
      "a QuickSight principal in another region",
      { ...prod, quicksight: { enabled: true, principalArn: "arn:aws:quicksight:us-east-1:333333333333:group/default/analysts" } },
      'prod: quicksight.principalArn: must be in the environment\'s account and region (333333333333, eu-west-1) (got "arn:aws:quicksight:us-east-1:333333333333:group/default/analysts")',
    ],
    [
      "a QuickSight principal that is not a QuickSight ARN",
      { ...prod, quicksight: { enabled: true, principalArn: "analysts" } },
      'prod: quicksight.principalArn: must be a QuickSight user or group ARN (arn:aws:quicksight:<region>:<account>:group/<namespace>/<name>) (got "analysts")',
    ],
    [
      "Lake Formation without admins",
      { ...dev, lakeFormation: { enabled: true, admins: [] } },
      "dev: lakeFormation.admins: must name at least one admin when Lake Formation is enabled: only admins can manage its grants, including the role that deploys this stack",
    ],
    [
      "a Lake Formation admin from another account",
      { ...prod, lakeFormation: { admins: ["arn:aws:iam::111111111111:role/dataplat-deploy"] } },
      'prod: lakeFormation.admins[0]: must be in the environment\'s account 333333333333 (got "arn:aws:iam::111111111111:role/dataplat-deploy")',
    ],
    [
      "a Lake Formation consumer that is not an IAM principal",
      { ...prod, lakeFormation: { consumers: ["analysts"] } },
      'prod: lakeFormation.consumers[0]: must be an IAM role or user ARN (got "analysts")',
    ],
    [
      "two AZs for a warehouse that needs three",
      { ...dev, network: { availabilityZones: ["a", "b"] } },
      'dev: network.availabilityZones: must list at least three Availability Zones when redshift is enabled: Redshift Serverless needs subnets in three (got ["a","b"])',
    ],
    ["a misaligned VPC range", { ...dev, network: { cidr: "10.0.1.0/16" } }, 'dev: network.cidr: must be an aligned IPv4 CIDR block from /16 to /24 (got "10.0.1.0/16")'],
    ["a repeated AZ", { ...local, network: { availabilityZones: ["a", "a"] } }, 'local: network.availabilityZones: must not repeat an Availability Zone (got ["a","a"])'],
    [
      "an adopted subnet in another region",
      {
        ...staging,
        network: {
          ...staging.network,
          subnets: [
            { id: "subnet-0a1b2c3d4e5f60001", availabilityZone: "eu-west-1a" },
            { id: "subnet-0a1b2c3d4e5f60002", availabilityZone: "eu-west-1b" },
            { id: "subnet-0a1b2c3d4e5f60003", availabilityZone: "us-east-1c" },
          ],
        },
      },
      'staging: network.subnets[2].availabilityZone: must be in the environment\'s region eu-west-1 (got "us-east-1c")',
    ],
    [
      "adopted subnets in two AZs for a warehouse that needs three",
      {
        ...staging,
        network: {
          ...staging.network,
          subnets: [
            { id: "subnet-0a1b2c3d4e5f60001", availabilityZone: "eu-west-1a" },
            { id: "subnet-0a1b2c3d4e5f60002", availabilityZone: "eu-west-1a" },
            { id: "subnet-0a1b2c3d4e5f60003", availabilityZone: "eu-west-1b" },
          ],
        },
      },
      "staging: network.subnets: must span at least three Availability Zones when redshift is enabled: Redshift Serverless needs subnets in three (got 2)",
    ],
    ["an unknown network mode", { ...dev, network: { mode: "peer" as never } }, 'dev: network.mode: must have mode "create" or "adopt" (got "peer")'],
    // ingestion
    [
      "a Lambda timeout of 15 minutes",
      { ...dev, ingestion: { api: { timeoutSeconds: 900 } } },
      "dev: ingestion.api.timeoutSeconds: must be from 1 to 899: below Lambda's 15-minute limit; longer loads belong in Glue (got 900)",
    ],
    ["no reserved concurrency", { ...dev, ingestion: { api: { reservedConcurrency: 0 } } }, "dev: ingestion.api.reservedConcurrency: must be ≥ 1: 0 would stop the function (got 0)"],
    [
      "a schedule in prose",
      { ...dev, ingestion: { api: { schedule: "every hour" } } },
      'dev: ingestion.api.schedule: must be "rate(<n> <minutes|hours|days>)" (singular unit for 1) or "cron(<six fields>)" (got "every hour")',
    ],
    ['"rate(1 hours)"', { ...dev, ingestion: { api: { schedule: "rate(1 hours)" } } }, 'dev: ingestion.api.schedule: must be "rate(<n> <minutes|hours|days>)" (singular unit for 1) or "cron(<six fields>)" (got "rate(1 hours)")'],
    [
      "a plain-HTTP API outside local",
      { ...prod, ingestion: { api: { baseUrl: "http://api.carrier.example" } } },
      'prod: ingestion.api.baseUrl: must use https outside local: API credentials never travel in clear text (got "http://api.carrier.example")',
    ],
    [
      "an API URL with credentials in it",
      { ...dev, ingestion: { api: { baseUrl: "https://user:pw@api.carrier.example" } } },
      'dev: ingestion.api.baseUrl: must be an absolute http(s) URL without credentials, query or fragment (got "https://user:pw@api.carrier.example")',
    ],
    ["an unknown Glue worker type", { ...dev, ingestion: { glue: { workerType: "G.16X" as never } } }, 'dev: ingestion.glue.workerType: must be one of G.1X, G.2X, G.4X, G.8X (got "G.16X")'],
    [
      "one Glue worker",
      { ...dev, ingestion: { glue: { numberOfWorkers: 1 } } },
      "dev: ingestion.glue.numberOfWorkers: must be from 2 to 299: Glue Spark jobs need a driver and at least one executor (got 1)",
    ],
    [
      "concurrent runs of bookmarked extracts",
      { ...dev, ingestion: { glue: { maxConcurrentRuns: 3 } } },
      "dev: ingestion.glue.maxConcurrentRuns: must be 1 while bookmarks are on: two runs of a bookmarked extract would read the same increment (got 3)",
    ],
    ["Glue 4.0", { ...dev, ingestion: { glue: { version: "4.0" as never } } }, 'dev: ingestion.glue.version: must be "5.0": the jobs are tested against Glue 5.0\'s Spark 3.5 line (got "4.0")'],
    [
      "prod without bookmarks",
      { ...prod, ingestion: { glue: { bookmarks: "disable" } } },
      'prod: ingestion.glue.bookmarks: must be "enable" in prod: without bookmarks every RDS extract re-reads the whole table (got "disable")',
    ],
    ["prod without job metrics", { ...prod, ingestion: { glue: { metrics: false } } }, "prod: ingestion.glue.metrics: must be true in prod: a failed production run must be diagnosable"],
    [
      "a provisioned stream without shards",
      { ...dev, ingestion: { kinesis: { capacityMode: "PROVISIONED" } } },
      "dev: ingestion.kinesis.shardCount: is required when capacityMode is PROVISIONED",
    ],
    [
      "shards on an on-demand stream",
      { ...dev, ingestion: { kinesis: { shardCount: 4 } } },
      "dev: ingestion.kinesis.shardCount: must be omitted when capacityMode is ON_DEMAND: Kinesis sizes the stream (got 4)",
    ],
    [
      "a Firehose buffer too small for dynamic partitioning",
      { ...dev, ingestion: { firehose: { bufferingSizeMb: 32 } } },
      "dev: ingestion.firehose.bufferingSizeMb: must be from 64 to 128 MB: dynamic partitioning needs at least 64 (got 32)",
    ],
    [
      "an EMR 6 release",
      { ...staging, ingestion: { ...staging.ingestion, emrServerless: { enabled: true, releaseLabel: "emr-6.15.0" } } },
      'staging: ingestion.emrServerless.releaseLabel: must be an EMR 7 release, e.g. "emr-7.5.0" (Spark 3.5) (got "emr-6.15.0")',
    ],
    [
      "EMR memory below 2 GB per vCPU",
      { ...dev, ingestion: { emrServerless: { maxCapacity: { cpuVcpu: 64, memoryGb: 64 } } } },
      "dev: ingestion.emrServerless.maxCapacity.memoryGb: must be at least 2 GB per vCPU (128): EMR Serverless workers have 2–8 GB per vCPU (got 64)",
    ],
    [
      "a reason for EMR being off while it is on",
      { ...staging, ingestion: { ...staging.ingestion, emrServerless: { enabled: true, disabledReason: "not needed in this account" } } },
      "staging: ingestion.emrServerless.disabledReason: must be omitted when emrServerless is enabled",
    ],
    [
      "a JDBC URL without a database",
      { ...dev, ingestion: { rds: { jdbcUrl: "jdbc:postgresql://orders-db:5432" } } },
      'dev: ingestion.rds.jdbcUrl: must be "jdbc:<postgresql|mysql>://<host>[:<port>]/<database>" (got "jdbc:postgresql://orders-db:5432")',
    ],
  ];

  it.each(cases)("%s", (_title, definition, expected) => {
    expect(problemOf(definition)).toBe(expected);
  });

  it("lists every problem of every environment in one message", () => {
    const message = errorOf(
      { ...dev, accountId: "abc", alarms: { lambdaThrottles: -5 } },
      { ...prod, protection: { forceDestroy: true } },
    );
    expect(message).toBe(
      [
        "Invalid environment configuration (4 problems):",
        '  - dev: accountId: must be a 12-digit AWS account id (got "abc")',
        "  - dev: alarms.lambdaThrottles: must be ≥ 0 (got -5)",
        "  - prod: protection.forceDestroy: must be false in prod: production data is never force-deleted",
        "  - prod: protection.preventDestroy: must be true in prod: data-bearing resources must survive a stray destroy",
      ].join("\n"),
    );
  });

  it("rejects two environments with the same name", () => {
    expect(problemOf(dev, { ...staging, name: "dev" })).toBe("dev: name: is used by another environment");
  });

  it("lets an opt-in feature (QuickSight) stay off without a reason", () => {
    expect(() => loadEnvironments([{ ...local, quicksight: { enabled: false, disabledReason: undefined } }])).not.toThrow();
  });

  it("lets local omit the account id", () => {
    expect(() => loadEnvironments([{ ...local, accountId: undefined }])).not.toThrow();
  });
});
