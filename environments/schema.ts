/**
 * The typed, validated shape of one environment's configuration.
 *
 * Every rule carries its own message so that a bad value fails synth with
 * "<env>: <field>: <rule> (got <value>)" instead of a stack trace from a module.
 * Cross-field rules (what prod must have, what local may omit) live in
 * `environmentRules` at the bottom, next to each other, so the policy is readable in one place.
 */
import { z } from "zod";

/** Commercial AWS regions the platform may be deployed to. */
export const AWS_REGIONS = [
  "us-east-1",
  "us-east-2",
  "us-west-1",
  "us-west-2",
  "ca-central-1",
  "ca-west-1",
  "mx-central-1",
  "sa-east-1",
  "eu-central-1",
  "eu-central-2",
  "eu-west-1",
  "eu-west-2",
  "eu-west-3",
  "eu-south-1",
  "eu-south-2",
  "eu-north-1",
  "il-central-1",
  "me-south-1",
  "me-central-1",
  "af-south-1",
  "ap-east-1",
  "ap-south-1",
  "ap-south-2",
  "ap-southeast-1",
  "ap-southeast-2",
  "ap-southeast-3",
  "ap-southeast-4",
  "ap-southeast-5",
  "ap-southeast-7",
  "ap-northeast-1",
  "ap-northeast-2",
  "ap-northeast-3",
] as const;
export type AwsRegion = (typeof AWS_REGIONS)[number];

/** AWS partitions (commercial, China, GovCloud US): the first field of every ARN. */
export const AWS_PARTITIONS = ["aws", "aws-cn", "aws-us-gov"] as const;
export type AwsPartition = (typeof AWS_PARTITIONS)[number];

/** Retention values CloudWatch Logs accepts (any other number is rejected by the API at apply time). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Athena rejects a workgroup bytes-scanned cutoff below 10 MB. */
export const ATHENA_MIN_CUTOFF_BYTES = 10 * 1024 * 1024;

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/** A zod error callback: "is required" when missing, otherwise the rule plus the offending value. */
function rule(message: string) {
  return (issue: { input?: unknown }) =>
    issue.input === undefined ? "is required" : `${message} (got ${show(issue.input)})`;
}

const slug = (maxLength: number) =>
  z.string({ error: rule("must be a string") }).regex(new RegExp(`^[a-z][a-z0-9]{0,${maxLength - 1}}$`), {
    error: rule(`must be lowercase letters and digits, starting with a letter, at most ${maxLength} characters`),
  });

const identifier = z.string({ error: rule("must be a string") }).regex(/^[a-z][a-z0-9_]{0,29}$/, {
  error: rule("must be a lowercase identifier (letters, digits, underscore; at most 30 characters)"),
});

/** A whole number ≥ `min`; `message` explains the bound when it is not obvious. */
const int = (min: number, message = `must be ≥ ${min}`) =>
  z
    .number({ error: rule("must be a number") })
    .int({ error: rule("must be a whole number") })
    .min(min, { error: rule(message) });

const nonNegative = int(0);
const positive = int(1);

const isoDate = z
  .string({ error: rule("must be a date string") })
  .regex(/^\d{4}-\d{2}-\d{2}$/, { error: rule("must be a date written yyyy-MM-dd") });

const tagValue = z
  .string({ error: rule("must be a string") })
  .min(1, { error: rule("must not be empty") })
  .max(256, { error: rule("must be at most 256 characters (AWS tag value limit)") });

// ---------------------------------------------------------------------------------------------
// Partitioning: one spec drives Firehose prefixes, Glue partitionBy, table keys and projection,
// and Athena predicates (see datasets/partitioning.ts).
// ---------------------------------------------------------------------------------------------

const DatePartitionKey = z.object({
  name: identifier,
  type: z.literal("date"),
  /** Hive value format; daily partitions only (hourly splits use a separate `hour` key). */
  format: z.literal("yyyy-MM-dd", { error: rule('must be "yyyy-MM-dd"') }),
  /** First day partition projection enumerates; earlier data is invisible to Athena. */
  rangeStart: isoDate,
});

const HourPartitionKey = z.object({
  name: identifier,
  type: z.literal("hour"),
});

const EnumPartitionKey = z.object({
  name: identifier,
  type: z.literal("enum"),
  /** Allowed values; rows with any other value are quarantined, never written to an unprojected partition. */
  values: z
    .array(z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/, { error: rule("must be a lowercase slug") }))
    .min(1, { error: rule("must list at least one value") }),
});

export const PartitionKeySchema = z.discriminatedUnion("type", [DatePartitionKey, HourPartitionKey, EnumPartitionKey], {
  error: rule('must have type "date", "hour" or "enum"'),
});
export type PartitionKey = z.output<typeof PartitionKeySchema>;

const PartitioningSchema = z
  .object({
    keys: z.array(PartitionKeySchema).min(1, { error: rule("must list at least one partition key") }),
  })
  .superRefine((spec, ctx) => {
    const keys = spec.keys;
    if (keys.length > 0 && keys[0].type !== "date") {
      ctx.addIssue({
        code: "custom",
        path: ["keys", 0, "type"],
        message: `the first partition key must be a date so every query can prune by day (got ${show(keys[0].type)})`,
      });
    }
    const seen = new Set<string>();
    keys.forEach((key, i) => {
      if (seen.has(key.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["keys", i, "name"],
          message: `duplicate partition key name (got ${show(key.name)})`,
        });
      }
      seen.add(key.name);
      if (key.type === "hour" && !keys.slice(0, i).some((k) => k.type === "date")) {
        ctx.addIssue({ code: "custom", path: ["keys", i, "type"], message: "an hour key must follow a date key" });
      }
    });
    for (const type of ["date", "hour"] as const) {
      if (keys.filter((k) => k.type === type).length > 1) {
        ctx.addIssue({ code: "custom", path: ["keys"], message: `at most one ${type} key is allowed` });
      }
    }
  });
export type PartitionSpec = z.output<typeof PartitioningSchema>;

// ---------------------------------------------------------------------------------------------
// Lake storage
// ---------------------------------------------------------------------------------------------

export const TieringSchema = z
  .object({
    /** Days until objects move to STANDARD_IA. S3 refuses fewer than 30. */
    infrequentAccessAfterDays: int(30, "must be ≥ 30: S3 does not move objects to STANDARD_IA earlier").optional(),
    /** Days until objects move to GLACIER_IR (still queryable by Athena, unlike GLACIER). */
    archiveAfterDays: positive.optional(),
    /** Days until current objects expire. Omit to keep data forever. */
    expireAfterDays: positive.optional(),
  })
  .superRefine((t, ctx) => {
    if (
      t.infrequentAccessAfterDays !== undefined &&
      t.archiveAfterDays !== undefined &&
      t.archiveAfterDays <= t.infrequentAccessAfterDays
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["archiveAfterDays"],
        message: `must be later than infrequentAccessAfterDays (${t.infrequentAccessAfterDays}) (got ${t.archiveAfterDays})`,
      });
    }
    const lastTransition = Math.max(t.infrequentAccessAfterDays ?? 0, t.archiveAfterDays ?? 0);
    if (t.expireAfterDays !== undefined && t.expireAfterDays <= lastTransition) {
      ctx.addIssue({
        code: "custom",
        path: ["expireAfterDays"],
        message: `must be later than the last transition (day ${lastTransition}) (got ${t.expireAfterDays})`,
      });
    }
  });
export type Tiering = z.output<typeof TieringSchema>;

/**
 * Days a pipeline run's manifest (kept in the quarantine zone) must survive: Step Functions redrives
 * a failed execution up to 14 days after it stops, and the redriven run reads its manifest again;
 * one more day covers the execution's own run time and S3 expiring at midnight.
 */
export const MANIFEST_MIN_DAYS = 15;

const LakeSchema = z.object({
  lifecycle: z.object({
    raw: TieringSchema,
    processed: TieringSchema,
    consumer: TieringSchema,
    quarantine: TieringSchema.superRefine((t, ctx) => {
      if (t.expireAfterDays !== undefined && t.expireAfterDays < MANIFEST_MIN_DAYS) {
        ctx.addIssue({
          code: "custom",
          path: ["expireAfterDays"],
          message: `must be ≥ ${MANIFEST_MIN_DAYS}: pipeline runs keep their manifests here, and a failed run can be redriven for 14 days (got ${t.expireAfterDays})`,
        });
      }
    }),
  }),
  /** Days a replaced or deleted object version is kept before it is purged. */
  noncurrentVersionExpirationDays: positive,
  /** Days S3 server access logs are kept. */
  accessLogRetentionDays: positive,
});

// ---------------------------------------------------------------------------------------------
// Observability, analytics guards, protection, state
// ---------------------------------------------------------------------------------------------

/**
 * Alarm thresholds. Every alarm fires when a period's value is GREATER than its threshold, so a
 * count threshold is the number tolerated per period (0: the first one alarms).
 */
const AlarmsSchema = z
  .object({
    /** "page" sends alarm actions to the on-call topic; "record" keeps alarm state and history only. */
    notify: z.enum(["page", "record"], { error: rule('must be "page" or "record"') }),
    /** Metric period. CloudWatch accepts 10, 30 or a multiple of 60 seconds. */
    periodSeconds: positive.refine((v) => v === 10 || v === 30 || v % 60 === 0, {
      error: rule("must be 10, 30 or a multiple of 60 seconds"),
    }),
    evaluationPeriods: positive,
    datapointsToAlarm: positive,
    /** Lambda errors tolerated per period (per function). */
    lambdaErrors: nonNegative,
    /** Lambda throttles tolerated per period (per function). */
    lambdaThrottles: nonNegative,
    /** Alarm when p99 duration passes this share of the function's own timeout. */
    lambdaDurationPercentOfTimeout: int(1, "must be a percentage between 1 and 100").max(100, {
      error: rule("must be a percentage between 1 and 100"),
    }),
    /** Messages a dead-letter queue may hold before it alarms. */
    deadLetterQueueDepth: nonNegative,
    /** Age in seconds of the oldest record Firehose has not yet delivered to S3. */
    firehoseFreshnessSeconds: positive,
    /** How far (ms) a Kinesis consumer may lag behind the stream's tip. */
    kinesisIteratorAgeMs: positive,
    /** Failed, timed-out or errored runs per Glue job and period. */
    glueJobFailures: nonNegative,
    /** Failed (and, separately, timed-out) executions per state machine and period. */
    stateMachineFailures: nonNegative,
  })
  .superRefine((a, ctx) => {
    if (a.datapointsToAlarm > a.evaluationPeriods) {
      ctx.addIssue({
        code: "custom",
        path: ["datapointsToAlarm"],
        message: `must not exceed evaluationPeriods (${a.evaluationPeriods}) (got ${a.datapointsToAlarm})`,
      });
    }
  });

const AthenaSchema = z.object({
  /** Per-query bytes-scanned cutoff enforced by every workgroup. Required in prod. */
  bytesScannedCutoffPerQuery: int(
    ATHENA_MIN_CUTOFF_BYTES,
    `must be ≥ ${ATHENA_MIN_CUTOFF_BYTES} bytes: Athena's smallest cutoff is 10 MB`,
  ).optional(),
  engineVersion: z.literal("Athena engine version 3", { error: rule('must be "Athena engine version 3"') }),
  /** Days query results are kept. */
  resultsRetentionDays: positive,
});

// ---------------------------------------------------------------------------------------------
// Catalog, Lake Formation, warehouse, BI and network
// ---------------------------------------------------------------------------------------------

/** Glue/EventBridge cron: six fields, and exactly one of day-of-month and day-of-week is "?". */
const glueCron = z
  .string({ error: rule("must be a string") })
  .regex(/^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$/, {
    error: rule('must be a Glue cron expression "cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)"'),
  })
  .refine(
    (v) => {
      if (!/^cron\(.*\)$/.test(v)) return true; // the shape rule above already reports it
      const fields = v.slice(5, -1).split(" ");
      return (fields[2] === "?") !== (fields[4] === "?");
    },
    { error: rule('must set exactly one of day-of-month and day-of-week to "?"') },
  );

const CatalogSchema = z.object({
  /** When the raw-zone crawlers run (UTC). They crawl new folders only, so a frequent schedule stays cheap. */
  crawlerSchedule: glueCron,
});

const iamPrincipalArn = z
  .string({ error: rule("must be a string") })
  .regex(/^arn:aws(-cn|-us-gov)?:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/, {
    error: rule("must be an IAM role or user ARN"),
  });

const LakeFormationSchema = z.object({
  /** Govern the lake with Lake Formation grants instead of IAM alone. Opt-in. */
  enabled: z.boolean({ error: rule("must be true or false") }),
  /** Data-lake administrators. Must include the role that deploys this stack: only admins can manage grants. */
  admins: z.array(iamPrincipalArn),
  /** Principals that read the consumer zone (and only the consumer zone). */
  consumers: z.array(iamPrincipalArn),
});

/** Redshift Serverless base capacity: 4, multiples of 8 up to 512, multiples of 32 up to 1024. */
const baseRpu = z
  .number({ error: rule("must be a number") })
  .refine(
    (v) =>
      v === 4 ||
      (Number.isInteger(v) && v >= 8 && v <= 512 && v % 8 === 0) ||
      (Number.isInteger(v) && v > 512 && v <= 1024 && v % 32 === 0),
    {
      error: rule("must be 4, a multiple of 8 from 8 to 512, or a multiple of 32 up to 1024 RPUs"),
    },
  );

const maxRpu = z
  .number({ error: rule("must be a number") })
  .refine((v) => Number.isInteger(v) && v >= 8 && v <= 5632 && v % 8 === 0, {
    error: rule("must be a multiple of 8 from 8 to 5632 RPUs"),
  });

const reason = z
  .string({ error: rule("must be a string") })
  .min(10, { error: rule("must say why in at least 10 characters") });

const RedshiftSchema = z
  .object({
    /** Redshift Serverless with Spectrum over the consumer zone. On unless an environment says why not. */
    enabled: z.boolean({ error: rule("must be true or false") }),
    /** RPUs the workgroup starts queries with. */
    baseCapacityRpu: baseRpu,
    /** RPUs the workgroup may scale to: the cost ceiling. */
    maxCapacityRpu: maxRpu,
    /** Why the warehouse is off here. Required when it is off; shown in the stack's outputs. */
    disabledReason: reason.optional(),
  })
  .superRefine((r, ctx) => {
    if (
      typeof r.maxCapacityRpu === "number" &&
      typeof r.baseCapacityRpu === "number" &&
      r.maxCapacityRpu < r.baseCapacityRpu
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["maxCapacityRpu"],
        message: `must be ≥ baseCapacityRpu (${r.baseCapacityRpu}) (got ${r.maxCapacityRpu})`,
      });
    }
    if (r.enabled === false && r.disabledReason === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["disabledReason"],
        message: "is required when redshift is turned off: say why this environment has no warehouse",
      });
    }
    if (r.enabled === true && r.disabledReason !== undefined) {
      ctx.addIssue({ code: "custom", path: ["disabledReason"], message: "must be omitted when redshift is enabled" });
    }
  });

const QuickSightSchema = z
  .object({
    /** Athena data source and datasets over the consumer tables. Opt-in: QuickSight is a per-account subscription. */
    enabled: z.boolean({ error: rule("must be true or false") }),
    /** QuickSight user or group that may use the data source and datasets. Required when enabled. */
    principalArn: z
      .string({ error: rule("must be a string") })
      .regex(/^arn:aws(-cn|-us-gov)?:quicksight:[a-z0-9-]+:\d{12}:(user|group)\/[\w-]+\/[\w+=,.@/-]+$/, {
        error: rule(
          "must be a QuickSight user or group ARN (arn:aws:quicksight:<region>:<account>:group/<namespace>/<name>)",
        ),
      })
      .optional(),
    /** Why QuickSight is off here, when that is worth saying. Shown in the stack's outputs. */
    disabledReason: reason.optional(),
  })
  .superRefine((q, ctx) => {
    if (q.enabled === true && q.principalArn === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["principalArn"],
        message: "is required when quicksight is enabled: someone must be able to use the datasets",
      });
    }
    if (q.enabled === true && q.disabledReason !== undefined) {
      ctx.addIssue({ code: "custom", path: ["disabledReason"], message: "must be omitted when quicksight is enabled" });
    }
  });

/** An aligned IPv4 CIDR block with a prefix length between `min` and `max`. */
const ipv4Cidr = (min: number, max: number) =>
  z
    .string({ error: rule("must be a string") })
    .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/, { error: rule("must be an IPv4 CIDR block") })
    .refine(
      (v) => {
        const [ip, bits] = v.split("/");
        const prefix = Number(bits);
        return (
          ip.split(".").every((o) => Number(o) <= 255) && prefix >= min && prefix <= max && cidrIsAligned(ip, prefix)
        );
      },
      { error: rule(`must be an aligned IPv4 CIDR block from /${min} to /${max}`) },
    );

const azSuffix = z.string().regex(/^[a-z]$/, { error: rule('must be an Availability Zone letter, e.g. "a"') });

const NetworkSchema = z.discriminatedUnion(
  "mode",
  [
    z.object({
      /** Create a private VPC: subnets in each listed AZ, no internet route, VPC endpoints for the services used. */
      mode: z.literal("create"),
      /** VPC address range, /16 to /24; each private subnet gets a /(n+4) slice of it. */
      cidr: ipv4Cidr(16, 24),
      /** AZ letters (appended to the region) that get a private subnet each. */
      availabilityZones: z
        .array(azSuffix)
        .min(2, { error: rule("must list at least two Availability Zones") })
        .max(6, { error: rule("must list at most six Availability Zones") })
        .refine((azs) => new Set(azs).size === azs.length, { error: rule("must not repeat an Availability Zone") }),
    }),
    z.object({
      /** Use a VPC someone else owns (e.g. a shared network account's). Only security groups are created in it. */
      mode: z.literal("adopt"),
      vpcId: z
        .string({ error: rule("must be a string") })
        .regex(/^vpc-[0-9a-f]{8,17}$/, { error: rule("must be a VPC id (vpc-…)") }),
      /** The VPC's address range: the platform's security groups allow HTTPS to its interface endpoints there. */
      cidr: ipv4Cidr(16, 28),
      /** Private subnets to place the warehouse and Glue connections in, with their AZ (Glue connections need it). */
      subnets: z
        .array(
          z.object({
            id: z
              .string({ error: rule("must be a string") })
              .regex(/^subnet-[0-9a-f]{8,17}$/, { error: rule("must be a subnet id (subnet-…)") }),
            availabilityZone: z
              .string({ error: rule("must be a string") })
              .regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, { error: rule("must be an Availability Zone name") }),
          }),
        )
        .min(2, { error: rule("must list at least two subnets") }),
      /**
       * Route tables for the S3 gateway endpoint, when the platform creates the VPC endpoints too.
       * Omit when the VPC's owner already provides endpoints (a second private-DNS endpoint for a service fails).
       */
      endpointRouteTableIds: z
        .array(z.string().regex(/^rtb-[0-9a-f]{8,17}$/, { error: rule("must be a route table id (rtb-…)") }))
        .min(1, { error: rule("must list at least one route table") })
        .optional(),
    }),
  ],
  {
    // The discriminator's issue carries the whole section; show the mode that was given.
    error: (issue: { input?: unknown }) =>
      issue.input === undefined
        ? "is required"
        : `must have mode "create" or "adopt" (got ${show((issue.input as { mode?: unknown })?.mode ?? issue.input)})`,
  },
);

/** True when the host bits of `ip`/`prefix` are zero (10.0.0.0/16, not 10.0.1.0/16). */
function cidrIsAligned(ip: string, prefix: number): boolean {
  const value = ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
  return value % 2 ** (32 - prefix) === 0;
}

// ---------------------------------------------------------------------------------------------
// Ingestion: the API Lambda, Glue jobs, the RDS source, Kinesis → Firehose, EMR Serverless
// ---------------------------------------------------------------------------------------------

/** EventBridge Scheduler expression: "rate(<n> <unit>)" or a six-field cron. */
const scheduleExpression = z
  .string({ error: rule("must be a string") })
  .refine(
    (v) =>
      /^rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\)$/.test(v) ||
      /^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$/.test(v),
    {
      error: rule('must be "rate(<n> <minutes|hours|days>)" (singular unit for 1) or "cron(<six fields>)"'),
    },
  )
  .refine(
    (v) => {
      if (!v.startsWith("cron(")) return true;
      const fields = v.slice(5, -1).split(" ");
      return fields.length !== 6 || (fields[2] === "?") !== (fields[4] === "?");
    },
    { error: rule('must set exactly one of day-of-month and day-of-week to "?"') },
  );

const httpUrl = z.string({ error: rule("must be a string") }).refine(
  (v) => {
    try {
      const url = new URL(v);
      return (
        (url.protocol === "https:" || url.protocol === "http:") &&
        url.username === "" &&
        url.password === "" &&
        url.search === "" &&
        url.hash === ""
      );
    } catch {
      return false;
    }
  },
  { error: rule("must be an absolute http(s) URL without credentials, query or fragment") },
);

/** A whole number from `min` to `max`, with the reason for the bounds. */
const between = (min: number, max: number, why = "") =>
  z
    .number({ error: rule("must be a number") })
    .int({ error: rule("must be a whole number") })
    .min(min, { error: rule(`must be from ${min} to ${max}${why}`) })
    .max(max, { error: rule(`must be from ${min} to ${max}${why}`) });

const ApiIngestSchema = z.object({
  /** The external API's origin; each API dataset's contract adds its path ("/v1/<resource>"). */
  baseUrl: httpUrl,
  /** When the function runs (EventBridge Scheduler, UTC). */
  schedule: scheduleExpression,
  /** Function timeout. Below 15 minutes by design: a load that needs longer belongs in Glue. */
  timeoutSeconds: between(1, 899, ": below Lambda's 15-minute limit; longer loads belong in Glue"),
  memoryMb: between(128, 10240, " MB (Lambda's range)"),
  /** Reserved concurrency: runs of one dataset never overlap, and a runaway cannot starve the account. */
  reservedConcurrency: int(1, "must be ≥ 1: 0 would stop the function"),
  /** Attempts per HTTP request: 429, 5xx, timeouts and network errors are retried with backoff. */
  maxAttempts: between(1, 10),
  /** First backoff delay; doubled per attempt, with full jitter (a Retry-After header wins). */
  backoffBaseMs: between(10, 60_000),
  /** Per-request timeout. */
  requestTimeoutSeconds: between(1, 120),
  /** Pages one run may fetch before it stops (a guard against a pagination loop). */
  maxPages: between(1, 100_000),
  /** A larger response is quarantined instead of parsed. */
  maxPageBytes: between(1024, 100 * 1024 * 1024),
  /** A larger record is quarantined. */
  maxRecordBytes: between(64, 10 * 1024 * 1024),
  /** Lambda's own retries of a failed asynchronous invocation before it goes to the dead-letter queue. */
  asyncRetryAttempts: between(0, 2, ": Lambda's asynchronous retry range"),
  /** How long an invocation may wait in Lambda's queue before it goes to the dead-letter queue. */
  maxEventAgeSeconds: between(60, 21600, ": Lambda's range"),
  logLevel: z.enum(["DEBUG", "INFO", "WARN", "ERROR"], { error: rule('must be "DEBUG", "INFO", "WARN" or "ERROR"') }),
});

export const GLUE_WORKER_TYPES = ["G.1X", "G.2X", "G.4X", "G.8X"] as const;

const GlueJobsSchema = z.object({
  /** Glue version: 5.0 runs Spark 3.5 and Python 3.11, the line the PySpark tests run on. */
  version: z.literal("5.0", { error: rule('must be "5.0": the jobs are tested against Glue 5.0\'s Spark 3.5 line') }),
  workerType: z.enum(GLUE_WORKER_TYPES, { error: rule(`must be one of ${GLUE_WORKER_TYPES.join(", ")}`) }),
  /** Workers per run. Glue Spark jobs need at least 2 (a driver and an executor). */
  numberOfWorkers: between(2, 299, ": Glue Spark jobs need a driver and at least one executor"),
  /** Minutes before a run is stopped. */
  timeoutMinutes: between(1, 2880, ": a batch run over two days is stuck"),
  /** Glue's own retries of a failed run. */
  maxRetries: between(0, 10),
  /** Runs of one job at a time. */
  maxConcurrentRuns: between(1, 1000),
  /** Job bookmarks of the incremental RDS extract ("pause" keeps the state but reads everything). */
  bookmarks: z.enum(["enable", "pause", "disable"], { error: rule('must be "enable", "pause" or "disable"') }),
  /** Job metrics in CloudWatch. */
  metrics: z.boolean({ error: rule("must be true or false") }),
  /** Driver and executor logs streamed to CloudWatch while the job runs. */
  continuousLogging: z.boolean({ error: rule("must be true or false") }),
});

const RdsSourceSchema = z.object({
  /** JDBC URL of the operational database the RDS datasets are extracted from. */
  jdbcUrl: z
    .string({ error: rule("must be a string") })
    .regex(/^jdbc:(postgresql|mysql):\/\/[A-Za-z0-9.-]+(:\d{2,5})?\/[A-Za-z0-9_]+$/, {
      error: rule('must be "jdbc:<postgresql|mysql>://<host>[:<port>]/<database>"'),
    }),
  /** Address range the database lives in (this VPC, or one peered with it): Glue may connect there on the database port. */
  databaseCidr: ipv4Cidr(8, 32),
});

/** EventBridge Scheduler's retry limits for a target (a universal target included). */
export const SCHEDULER_MAX_RETRY_ATTEMPTS = 185;
export const SCHEDULER_MAX_EVENT_AGE_SECONDS = 86_400;

const ExtractScheduleSchema = z.object({
  /**
   * When every Glue extract (RDS, DynamoDB) starts: EventBridge Scheduler, UTC. It must not fire more
   * often than a contract declares one run to take (checked at synth against `ingestion.durationMinutes`).
   */
  schedule: scheduleExpression,
  /** Scheduler's retries of a StartJobRun it could not make (throttled, a run still going); then the dead-letter queue. */
  retryAttempts: between(0, SCHEDULER_MAX_RETRY_ATTEMPTS, ": EventBridge Scheduler's retry range"),
  /** How long Scheduler keeps retrying one start before it dead-letters it. */
  maxEventAgeSeconds: between(60, SCHEDULER_MAX_EVENT_AGE_SECONDS, ": EventBridge Scheduler's range"),
});

const KinesisSchema = z
  .object({
    capacityMode: z.enum(["ON_DEMAND", "PROVISIONED"], { error: rule('must be "ON_DEMAND" or "PROVISIONED"') }),
    /** Shards of a provisioned stream. Required when provisioned; omitted on demand. */
    shardCount: between(1, 500).optional(),
    retentionHours: between(24, 8760, " hours (Kinesis's range)"),
  })
  .superRefine((k, ctx) => {
    if (k.capacityMode === "PROVISIONED" && k.shardCount === undefined) {
      ctx.addIssue({ code: "custom", path: ["shardCount"], message: "is required when capacityMode is PROVISIONED" });
    }
    if (k.capacityMode === "ON_DEMAND" && k.shardCount !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["shardCount"],
        message: `must be omitted when capacityMode is ON_DEMAND: Kinesis sizes the stream (got ${k.shardCount})`,
      });
    }
  });

const FirehoseSchema = z.object({
  /** Buffer size before a delivery. Dynamic partitioning needs at least 64 MB. */
  bufferingSizeMb: between(64, 128, " MB: dynamic partitioning needs at least 64"),
  /** Longest wait before a delivery. */
  bufferingIntervalSeconds: between(60, 900),
  /** Convert records to Parquet against the dataset's processed table (delivered to the processed zone). */
  parquetConversion: z.boolean({ error: rule("must be true or false") }),
});

const EmrServerlessSchema = z
  .object({
    /** An EMR Serverless Spark application for persistent, heavy work. Opt-in. */
    enabled: z.boolean({ error: rule("must be true or false") }),
    /** EMR release; 7.x runs Spark 3.5, the line the Glue jobs are tested on. */
    releaseLabel: z
      .string({ error: rule("must be a string") })
      .regex(/^emr-7\.\d+\.\d+$/, { error: rule('must be an EMR 7 release, e.g. "emr-7.5.0" (Spark 3.5)') }),
    /** The application's capacity ceiling: the cost guard. */
    maxCapacity: z.object({
      cpuVcpu: between(1, 4000),
      memoryGb: between(2, 24000),
    }),
    /** Minutes idle before the application stops (and stops costing). */
    autoStopMinutes: between(1, 10080),
    /** Why EMR Serverless is off here, when that is worth saying. Shown in the stack's outputs. */
    disabledReason: reason.optional(),
  })
  .superRefine((e, ctx) => {
    if (
      typeof e.maxCapacity?.cpuVcpu === "number" &&
      typeof e.maxCapacity?.memoryGb === "number" &&
      e.maxCapacity.memoryGb < 2 * e.maxCapacity.cpuVcpu
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["maxCapacity", "memoryGb"],
        message: `must be at least 2 GB per vCPU (${2 * e.maxCapacity.cpuVcpu}): EMR Serverless workers have 2–8 GB per vCPU (got ${e.maxCapacity.memoryGb})`,
      });
    }
    if (e.enabled === true && e.disabledReason !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["disabledReason"],
        message: "must be omitted when emrServerless is enabled",
      });
    }
  });

/** Managed Service for Apache Flink's limits for one application. */
export const FLINK_MAX_PARALLELISM_PER_KPU = 8;
const StreamSqlSchema = z
  .object({
    /**
     * A Managed Service for Apache Flink application per dataset that declares stream queries
     * (datasets/stream-queries.ts), computing them on its Kinesis stream. Opt-in.
     */
    enabled: z.boolean({ error: rule("must be true or false") }),
    /** Parallel tasks of each application (Managed Flink bills one KPU per `parallelismPerKpu` of them). */
    parallelism: between(1, 1024),
    /** Tasks per KPU: 1 gives each task a whole vCPU and 4 GB; more pack light SQL jobs tighter. */
    parallelismPerKpu: between(1, FLINK_MAX_PARALLELISM_PER_KPU),
    /** Let Managed Flink raise parallelism under load (and lower it back). */
    autoScaling: z.boolean({ error: rule("must be true or false") }),
    /** How often state (window contents, stream positions) is checkpointed; a restart resumes from the last one. */
    checkpointIntervalSeconds: between(10, 3600),
    /** Take a snapshot when the application stops or updates, and restore it on start: no window is lost by a deploy. */
    snapshots: z.boolean({ error: rule("must be true or false") }),
    /** Alarm thresholds: any period above them alarms (with the environment's `alarms` period and notification). */
    alarms: z.object({
      /** Milliseconds per period the job was not running (restarting or failed). */
      downtimeMs: nonNegative,
      /** Checkpoints failed per period: state stops being saved, a restart would replay from further back. */
      checkpointFailures: nonNegative,
      /** How far (ms) the application reads behind the stream's tip. */
      millisBehindLatest: positive,
    }),
    /** Why the application is off here. Required when it is off; shown in the stack's outputs. */
    disabledReason: reason.optional(),
  })
  .superRefine((f, ctx) => {
    if (f.enabled === false && f.disabledReason === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["disabledReason"],
        message: "is required when streamSql is turned off: say why this environment does without real-time SQL",
      });
    }
    if (f.enabled === true && f.disabledReason !== undefined) {
      ctx.addIssue({ code: "custom", path: ["disabledReason"], message: "must be omitted when streamSql is enabled" });
    }
  });

const IngestionSchema = z.object({
  api: ApiIngestSchema,
  glue: GlueJobsSchema,
  extracts: ExtractScheduleSchema,
  rds: RdsSourceSchema,
  kinesis: KinesisSchema,
  firehose: FirehoseSchema,
  emrServerless: EmrServerlessSchema,
});

/** EventBridge Pipes' limits for an SQS source. */
export const PIPES_MAX_BATCHING_WINDOW_SECONDS = 300;
/**
 * Largest batch a pipeline accepts: each record carries one object key (S3 allows 1 KiB, ours are
 * ~100 bytes) and the whole batch is one execution's input, which Step Functions caps at 256 KiB.
 */
export const PIPELINE_MAX_BATCH_SIZE = 1000;
/** A Standard workflow runs for at most one year. */
const MAX_EXECUTION_MINUTES = 525_600;

const OrchestrationSchema = z.object({
  /**
   * How "Object Created" events start pipelines: buffered in SQS and read in batches by EventBridge
   * Pipes (one execution per batch), or, where batching is off, one execution per event.
   */
  batching: z
    .object({
      enabled: z.boolean({ error: rule("must be true or false") }),
      /** Events per execution at most. */
      batchSize: int(1).max(PIPELINE_MAX_BATCH_SIZE, {
        error: rule(
          `must be ≤ ${PIPELINE_MAX_BATCH_SIZE}: a batch is one execution's input, which Step Functions caps at 256 KiB`,
        ),
      }),
      /** How long the pipe gathers events before it starts an execution. */
      windowSeconds: int(0).max(PIPES_MAX_BATCHING_WINDOW_SECONDS, {
        error: rule(
          `must be ≤ ${PIPES_MAX_BATCHING_WINDOW_SECONDS} seconds: EventBridge Pipes waits at most five minutes`,
        ),
      }),
      /** Why batching is off here. Required when it is off; shown in the stack's outputs. */
      disabledReason: reason.optional(),
    })
    .superRefine((b, ctx) => {
      if (typeof b.batchSize === "number" && b.batchSize > 10 && b.windowSeconds === 0) {
        ctx.addIssue({
          code: "custom",
          path: ["windowSeconds"],
          message: `must be ≥ 1 when batchSize is above 10 (${b.batchSize}): EventBridge Pipes requires a batching window for larger SQS batches (got 0)`,
        });
      }
      if (b.enabled === false && b.disabledReason === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["disabledReason"],
          message: "is required when batching is turned off: say why this environment starts one execution per object",
        });
      }
      if (b.enabled === true && b.disabledReason !== undefined) {
        ctx.addIssue({ code: "custom", path: ["disabledReason"], message: "must be omitted when batching is enabled" });
      }
    }),
  /** An execution that runs longer fails as timed out (and alarms). */
  executionTimeoutMinutes: int(5, "must be ≥ 5 minutes: two Glue jobs and a crawl never finish sooner").max(
    MAX_EXECUTION_MINUTES,
    {
      error: rule(`must be ≤ ${MAX_EXECUTION_MINUTES} minutes: a Standard workflow runs for at most a year`),
    },
  ),
  /** Log each state's input and output (not only events). Off in prod: inputs and outputs can carry record data. */
  logExecutionData: z.boolean({ error: rule("must be true or false") }),
  /** Receives of a subscriber message before it moves to the subscriber's dead-letter queue. */
  maxReceiveCount: int(1).max(1000, { error: rule("must be between 1 and 1000 (SQS redrive policy limit)") }),
  /** How long the pipeline waits between polls of its crawl (a Wait state): a crawl takes a minute or more on AWS. */
  crawlerPollSeconds: int(1).max(3600, { error: rule("must be between 1 and 3600 seconds") }),
});

const ProtectionSchema = z.object({
  /** Let `terraform destroy` delete non-empty buckets. Only for disposable environments. */
  forceDestroy: z.boolean({ error: rule("must be true or false") }),
  /** Add `lifecycle { prevent_destroy = true }` to data-bearing resources. */
  preventDestroy: z.boolean({ error: rule("must be true or false") }),
});

const LogsSchema = z.object({
  retentionDays: z.number().refine((v) => (LOG_RETENTION_DAYS as readonly number[]).includes(v), {
    error: rule(`must be a CloudWatch Logs retention value (${LOG_RETENTION_DAYS.join(", ")})`),
  }),
});

const bucketName = z
  .string({ error: rule("must be a string") })
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: rule("must be a valid S3 bucket name") });

const StateSchema = z.discriminatedUnion(
  "backend",
  [
    z.object({
      backend: z.literal("s3"),
      bucket: bucketName,
      region: z.enum(AWS_REGIONS, { error: rule("must be a known AWS region") }),
      /** KMS key (id, ARN or alias ARN) for state objects. Default: the bucket's default encryption. */
      kmsKeyId: z.string().min(1).optional(),
    }),
    z.object({
      backend: z.literal("local"),
      /** Path of the state file, relative to the stack's output directory. */
      path: z.string().min(1, { error: rule("must not be empty") }),
    }),
  ],
  { error: rule('must have backend "s3" or "local"') },
);

// ---------------------------------------------------------------------------------------------
// The environment
// ---------------------------------------------------------------------------------------------

export const TIERS = ["local", "nonprod", "prod"] as const;
export type Tier = (typeof TIERS)[number];

/** Production logs are kept at least this long (they are audit evidence; CIS and checkov CKV_AWS_338 ask for a year). */
export const PROD_MIN_LOG_RETENTION_DAYS = 365;

export const EnvironmentSchema = z
  .object({
    /** Environment name: stack name, state key, name prefix and `environment` tag. */
    name: slug(10),
    /** Protection and guard level. `prod` turns on every production-only rule below. */
    tier: z.enum(TIERS, { error: rule(`must be one of ${TIERS.join(", ")}`) }),
    /** The only account this environment may be applied to. Required outside `local`. */
    accountId: z
      .string({ error: rule("must be a string") })
      .regex(/^\d{12}$/, { error: rule("must be a 12-digit AWS account id") })
      .optional(),
    region: z.enum(AWS_REGIONS, { error: rule("must be a known AWS region") }),
    /** AWS partition every ARN the platform writes is in (the regions above are all in "aws"). */
    partition: z.enum(AWS_PARTITIONS, { error: rule(`must be one of ${AWS_PARTITIONS.join(", ")}`) }),
    /** Short project slug; first part of every resource name. */
    project: slug(12),
    owner: tagValue,
    costCentre: tagValue,
    /** Extra tags for every taggable resource. Cannot replace the required ones. */
    tags: z.record(z.string().min(1).max(128), tagValue),
    state: StateSchema,
    protection: ProtectionSchema,
    partitioning: PartitioningSchema,
    lake: LakeSchema,
    athena: AthenaSchema,
    catalog: CatalogSchema,
    lakeFormation: LakeFormationSchema,
    redshift: RedshiftSchema,
    quicksight: QuickSightSchema,
    network: NetworkSchema,
    ingestion: IngestionSchema,
    alarms: AlarmsSchema,
    /** Real-time SQL on streams (modules/streaming). */
    streamSql: StreamSqlSchema,
    orchestration: OrchestrationSchema,
    logs: LogsSchema,
  })
  // `when` runs the cross-field rules even when a field failed, so one run lists every problem.
  .superRefine((env, ctx) => environmentRules(env, ctx), { when: () => true });

/**
 * The input the cross-field rules see: `when` above runs them even when a field failed, and a failed
 * field holds what the file wrote. So every field is `unknown`, and each rule checks what it reads.
 */
type Unvalidated = { readonly [field: string]: unknown };

/** `value` when it is an object of fields, else undefined. */
const fieldsOf = (value: unknown): Unvalidated | undefined =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Unvalidated) : undefined;

/** Rules that relate fields to the tier. Kept together so the production policy reads in one place. */
function environmentRules(env: Unvalidated, ctx: z.RefinementCtx): void {
  const fail = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
  if (env.tier !== "local") {
    if (env.accountId === undefined)
      fail(["accountId"], "is required outside local: the provider must refuse any other account");
    if (fieldsOf(env.state)?.backend === "local")
      fail(["state", "backend"], 'must be "s3" outside local: shared state needs a remote, locked backend');
  }
  if (env.tier === "prod") {
    const protection = fieldsOf(env.protection);
    const athena = fieldsOf(env.athena);
    const retentionDays = fieldsOf(env.logs)?.retentionDays;
    if (protection?.forceDestroy === true)
      fail(["protection", "forceDestroy"], "must be false in prod: production data is never force-deleted");
    if (protection?.preventDestroy === false)
      fail(
        ["protection", "preventDestroy"],
        "must be true in prod: data-bearing resources must survive a stray destroy",
      );
    if (athena !== undefined && athena.bytesScannedCutoffPerQuery === undefined) {
      fail(["athena", "bytesScannedCutoffPerQuery"], "is required in prod: every production query needs a scan cutoff");
    }
    if (fieldsOf(env.alarms)?.notify === "record")
      fail(["alarms", "notify"], 'must be "page" in prod: production alarms must reach on-call');
    if (fieldsOf(env.orchestration)?.logExecutionData === true) {
      fail(
        ["orchestration", "logExecutionData"],
        "must be false in prod: execution inputs and outputs can carry record data into the logs",
      );
    }
    if (typeof retentionDays === "number" && retentionDays < PROD_MIN_LOG_RETENTION_DAYS) {
      fail(
        ["logs", "retentionDays"],
        `must be ≥ ${PROD_MIN_LOG_RETENTION_DAYS} in prod: production logs are audit evidence kept at least a year (got ${retentionDays})`,
      );
    }
  }
  analyticsRules(env, fail);
  ingestionRules(env, fail);
  const tags = fieldsOf(env.tags);
  if (tags) {
    for (const reserved of RESERVED_TAG_KEYS) {
      if (reserved in tags) fail(["tags", reserved], "is set by the platform and cannot be overridden");
    }
  }
}

/** Rules between the analytics features and the network and account they live in. */
function analyticsRules(env: Unvalidated, fail: (path: (string | number)[], message: string) => void): void {
  const network = fieldsOf(env.network);
  const envRegion = typeof env.region === "string" ? env.region : undefined;
  if (fieldsOf(env.redshift)?.enabled === true && network) {
    // Redshift Serverless refuses a workgroup whose subnets span fewer than three AZs.
    if (network.mode === "create" && Array.isArray(network.availabilityZones) && network.availabilityZones.length < 3) {
      fail(
        ["network", "availabilityZones"],
        `must list at least three Availability Zones when redshift is enabled: Redshift Serverless needs subnets in three (got ${show(network.availabilityZones)})`,
      );
    }
    if (network.mode === "adopt" && Array.isArray(network.subnets)) {
      const zones = new Set(network.subnets.map((s: unknown) => fieldsOf(s)?.availabilityZone));
      if (zones.size < 3)
        fail(
          ["network", "subnets"],
          `must span at least three Availability Zones when redshift is enabled: Redshift Serverless needs subnets in three (got ${zones.size})`,
        );
    }
  }
  if (network?.mode === "adopt" && Array.isArray(network.subnets) && envRegion !== undefined) {
    network.subnets.forEach((s: unknown, i: number) => {
      const zone = fieldsOf(s)?.availabilityZone;
      if (typeof zone === "string" && !zone.startsWith(envRegion)) {
        fail(
          ["network", "subnets", i, "availabilityZone"],
          `must be in the environment's region ${envRegion} (got ${show(zone)})`,
        );
      }
    });
  }
  const lf = fieldsOf(env.lakeFormation);
  if (lf?.enabled === true && Array.isArray(lf.admins) && lf.admins.length === 0) {
    fail(
      ["lakeFormation", "admins"],
      "must name at least one admin when Lake Formation is enabled: only admins can manage its grants, including the role that deploys this stack",
    );
  }
  const accountId = typeof env.accountId === "string" && /^\d{12}$/.test(env.accountId) ? env.accountId : undefined;
  if (lf && Array.isArray(lf.admins) && accountId) {
    lf.admins.forEach((arn: unknown, i: number) => {
      if (
        typeof arn === "string" &&
        /^arn:aws(-cn|-us-gov)?:iam::\d{12}:/.test(arn) &&
        arn.split(":")[4] !== accountId
      ) {
        fail(["lakeFormation", "admins", i], `must be in the environment's account ${accountId} (got ${show(arn)})`);
      }
    });
  }
  const principal = fieldsOf(env.quicksight)?.principalArn;
  if (
    typeof principal === "string" &&
    /^arn:aws(-cn|-us-gov)?:quicksight:/.test(principal) &&
    env.accountId === accountId
  ) {
    const [, , , region, account] = principal.split(":");
    if (region !== env.region || (accountId !== undefined && account !== accountId)) {
      fail(
        ["quicksight", "principalArn"],
        `must be in the environment's account and region (${accountId ?? "any"}, ${env.region}) (got ${show(principal)})`,
      );
    }
  }
}

/** Rules between the ingestion settings and the tier. */
function ingestionRules(env: Unvalidated, fail: (path: (string | number)[], message: string) => void): void {
  const ingestion = fieldsOf(env.ingestion);
  if (!ingestion) return;
  const baseUrl = fieldsOf(ingestion.api)?.baseUrl;
  const glue = fieldsOf(ingestion.glue);
  if (env.tier !== "local" && typeof baseUrl === "string" && /^http:\/\//i.test(baseUrl)) {
    fail(
      ["ingestion", "api", "baseUrl"],
      `must use https outside local: API credentials never travel in clear text (got ${show(baseUrl)})`,
    );
  }
  const runs = glue?.maxConcurrentRuns;
  if (typeof runs === "number" && runs > 1 && glue?.bookmarks !== "disable") {
    fail(
      ["ingestion", "glue", "maxConcurrentRuns"],
      `must be 1 while bookmarks are on: two runs of a bookmarked extract would read the same increment (got ${runs})`,
    );
  }
  if (env.tier === "prod") {
    if (glue?.bookmarks !== undefined && glue.bookmarks !== "enable") {
      fail(
        ["ingestion", "glue", "bookmarks"],
        `must be "enable" in prod: without bookmarks every RDS extract re-reads the whole table (got ${show(glue.bookmarks)})`,
      );
    }
    for (const field of ["metrics", "continuousLogging"] as const) {
      if (glue?.[field] === false)
        fail(["ingestion", "glue", field], "must be true in prod: a failed production run must be diagnosable");
    }
  }
}

/** Tag keys the tagging aspect owns (see modules/shared/tagging.ts). */
export const RESERVED_TAG_KEYS = ["environment", "project", "owner", "cost-centre", "managed-by"] as const;

/** A validated environment configuration: what modules receive. */
export type EnvironmentConfig = z.output<typeof EnvironmentSchema>;
export type NetworkConfig = EnvironmentConfig["network"];
export type RedshiftConfig = EnvironmentConfig["redshift"];
export type QuickSightConfig = EnvironmentConfig["quicksight"];
export type LakeFormationConfig = EnvironmentConfig["lakeFormation"];
export type AlarmsConfig = EnvironmentConfig["alarms"];
export type StreamSqlConfig = EnvironmentConfig["streamSql"];
export type OrchestrationConfig = EnvironmentConfig["orchestration"];
export type IngestionConfig = EnvironmentConfig["ingestion"];
export type AthenaConfig = EnvironmentConfig["athena"];
export type ExtractScheduleConfig = IngestionConfig["extracts"];
/** What an environment file may write before defaults are merged and validation runs. */
export type EnvironmentInput = z.input<typeof EnvironmentSchema>;
