/**
 * Ingestion: every source into the raw zone, each on the engine the platform's rules give it
 * (datasets/ingestion.ts):
 *  - lambda  → an api-ingest function per API dataset, on a schedule, with a dead-letter queue;
 *  - glue    → Glue Spark extracts (RDS over a JDBC connection with bookmarks, DynamoDB through
 *              exports), and for every dataset the raw → processed and processed → consumer jobs;
 *  - kinesis → a Kinesis stream per streaming dataset, delivered by Firehose;
 *  - emr     → an EMR Serverless application (opt-in per environment).
 * Plus what they share: an ingestion KMS key (secrets, environment variables, logs, the queue, the
 * streams), an artifacts bucket for job scripts, a scratch bucket for Glue and DynamoDB exports,
 * and a state bucket for what incremental sources remember between runs (high-water marks).
 */
import { AssetType, TerraformAsset } from "cdktf";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { SqsQueuePolicy } from "@cdktf/provider-aws/lib/sqs-queue-policy";
import { Construct } from "constructs";
import type { Engine } from "../../datasets";
import type { IngestionContext } from "./context";
import { bundleFunction, type Artifact } from "../shared/bundle";
import { EncryptionKey } from "../shared/encryption-key";
import { policyDocument, ServiceRole } from "../shared/iam";
import { DEAD_LETTER_ONLY, SCHEDULE_INPUT } from "../shared/kept-reasons";
import { mapValues, stackOutput } from "../shared/outputs";
import { skipPolicyCheck } from "../shared/policy-checks";
import { SecureBucket } from "../shared/secure-bucket";
import { ApiIngestFunction, type ApiIngestSettings } from "./api";
import { EmrServerless, type EmrServerlessSettings } from "./emr";
import { ExtractSchedule, type ExtractScheduleSettings } from "./extract-schedule";
import { GlueJobs, type GlueJobSettings, type RdsSource } from "./glue";
import { EventStream, type FirehoseSettings, type KinesisSettings } from "./streaming";

export { ApiIngestFunction, LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, METRICS_NAMESPACE } from "./api";
export type { ApiIngestSettings } from "./api";
export { EmrServerless } from "./emr";
export {
  checkExtractCadence,
  ExtractSchedule,
  glueStartJobRunTarget,
  shortestIntervalMinutes,
} from "./extract-schedule";
export type { ExtractScheduleSettings } from "./extract-schedule";
export type { EmrServerlessSettings } from "./emr";
export { GlueJobs, gluePackage, JOB_KINDS, jdbcPort } from "./glue";
export type { DatasetJobs, GlueJobRef, GlueJobSettings, JobKind, RdsSource } from "./glue";
export { EventStream, FIREHOSE_ERROR_ROOT } from "./streaming";
export type { FirehoseSettings, KinesisSettings } from "./streaming";

export interface IngestionProps extends IngestionContext {
  readonly api: ApiIngestSettings;
  readonly glue: GlueJobSettings;
  /** When the Glue extracts start (the environment's `ingestion.extracts`). */
  readonly extracts: ExtractScheduleSettings;
  /** The RDS source. @default none: no JDBC connection and no RDS extract (the emulator's case) */
  readonly rds?: RdsSource;
  readonly kinesis: KinesisSettings;
  readonly firehose: FirehoseSettings;
  /** EMR Serverless. @default off */
  readonly emrServerless?: EmrServerlessSettings;
  /** Retention of the function and Firehose log groups (the environment's `logs.retentionDays`). */
  readonly logRetentionDays: number;
  /** Let destroy delete non-empty artifact and scratch buckets, and secrets at once. @default false */
  readonly forceDestroy?: boolean;
  /** The api-ingest bundle. @default bundled from functions/api-ingest (cached) */
  readonly apiBundle?: Artifact;
}

/** Days a dead letter waits for a redrive: SQS's maximum. */
export const DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600;
/** Glue temporary files and DynamoDB exports are re-creatable; three days covers a weekend's reruns. */
export const SCRATCH_EXPIRY_DAYS = 3;

export class Ingestion extends Construct {
  /** Secrets, Lambda environment variables, log groups, the dead-letter queue and the streams. */
  readonly key: EncryptionKey;
  /** Glue scripts and the dataplat_glue package, keyed by content hash. */
  readonly artifacts: SecureBucket;
  /** Glue temporary files and DynamoDB exports (raw-zone key, expires after SCRATCH_EXPIRY_DAYS). */
  readonly scratch: SecureBucket;
  /**
   * What incremental sources remember between runs: the API functions' high-water marks and the
   * DynamoDB extracts' export history (ingestion key, versioned, never expires). Only where a
   * dataset needs it.
   */
  readonly state?: SecureBucket;
  /**
   * Every failure of the API path: dead letters from the handler, Lambda's on-failure destination,
   * the scheduler's. The only path with one: orchestration catches Glue failures, Firehose writes
   * its own to the error prefix, and each extract schedule has its own.
   */
  readonly deadLetterQueue: SqsQueue;
  /** API credentials (value set out of band: `aws secretsmanager put-secret-value`). */
  readonly apiCredentials: SecretsmanagerSecret;
  /** RDS credentials the Glue connection uses (value set out of band). */
  readonly rdsCredentials?: SecretsmanagerSecret;
  /** The api-ingest function per API dataset. */
  readonly apiFunctions: Readonly<Record<string, ApiIngestFunction>>;
  readonly schedulerRole: ServiceRole;
  /** The Glue jobs: `glue.jobs[dataset]` is `{ extract?, rawToProcessed?, processedToConsumer? }`, each with name, arn, job and role. */
  readonly glue: GlueJobs;
  /** The schedule that starts each dataset's extract (RDS and DynamoDB datasets), with its role and dead-letter queue. */
  readonly extractSchedules: Readonly<Record<string, ExtractSchedule>>;
  /** Kinesis stream and Firehose per streaming dataset. */
  readonly streams: Readonly<Record<string, EventStream>>;
  readonly emr?: EmrServerless;
  /** The engine each dataset got from the rules. */
  readonly engines: Readonly<Record<string, Engine>>;

  constructor(scope: Construct, id: string, props: IngestionProps) {
    super(scope, id);
    const { naming, accountId, region, lake, catalog, network, datasets } = props;
    const context: IngestionContext = { naming, accountId, region, lake, catalog, network, datasets };
    this.engines = Object.fromEntries(datasets.map((d) => [d.name, d.engine]));

    this.key = new EncryptionKey(this, "key", { naming, purpose: "ingestion", accountId, region });
    this.key.allowCloudWatchLogs("IngestionLogs", {
      ArnLike: {
        "kms:EncryptionContext:aws:logs:arn": [
          naming.arn({
            service: "logs",
            region,
            account: accountId,
            resource: `log-group:/aws/lambda/${naming.prefix}-*`,
          }),
          naming.arn({
            service: "logs",
            region,
            account: accountId,
            resource: `log-group:/aws/kinesisfirehose/${naming.prefix}-*`,
          }),
        ],
      },
    });

    // Like every bucket of the platform: force-destroy only where disposable (prevent_destroy is the stack's DataProtectionAspect).
    const protection = { forceDestroy: props.forceDestroy ?? false, accountId };
    this.artifacts = new SecureBucket(this, "artifacts", {
      bucketName: naming.bucket("artifacts"),
      encryptionKey: new EncryptionKey(this, "artifacts-key", { naming, purpose: "artifacts", accountId, region }),
      accessLogs: { bucket: lake.accessLogs, prefix: "artifacts/" },
      noncurrentVersionExpirationDays: 30,
      unusedObjectEventsReason:
        "holds job scripts and packages Terraform uploads at deploy time; nothing runs when one lands",
      ...protection,
    });
    // Holds raw-zone data on its way in, so it uses the raw zone's key.
    this.scratch = new SecureBucket(this, "scratch", {
      bucketName: naming.bucket("scratch"),
      encryptionKey: lake.zones.raw.key,
      accessLogs: { bucket: lake.accessLogs, prefix: "scratch/" },
      lifecycle: { expireAfterDays: SCRATCH_EXPIRY_DAYS },
      noncurrentVersionExpirationDays: 1,
      unusedObjectEventsReason:
        "Glue temporary files and DynamoDB exports, read by the job that wrote or requested them; nothing reacts to them",
      ...protection,
    });

    // Marks must outlive every run: no expiry; old versions are kept a month for audits and rollbacks.
    const needsState = datasets.some(
      (d) =>
        (d.engine === "lambda" && d.contract.source.kind === "api" && d.contract.source.incremental.kind === "since") ||
        d.contract.source.kind === "dynamodb",
    );
    this.state = needsState
      ? new SecureBucket(this, "state", {
          bucketName: naming.bucket("ingest-state"),
          encryptionKey: this.key,
          accessLogs: { bucket: lake.accessLogs, prefix: "ingest-state/" },
          noncurrentVersionExpirationDays: 30,
          unusedObjectEventsReason:
            "high-water marks and export history, read by the function or job that wrote them at its next run; nothing reacts to them",
          ...protection,
        })
      : undefined;

    this.deadLetterQueue = new SqsQueue(this, "dead-letters", {
      name: naming.name("ingest-dlq"),
      messageRetentionSeconds: DEAD_LETTER_RETENTION_SECONDS,
      kmsMasterKeyId: this.key.arn,
      kmsDataKeyReusePeriodSeconds: 300,
    });
    new SqsQueuePolicy(this, "dead-letters-policy", {
      queueUrl: this.deadLetterQueue.url,
      policy: policyDocument([
        {
          sid: "DenyInsecureTransport",
          effect: "Deny",
          principals: "*",
          actions: ["sqs:*"],
          resources: [this.deadLetterQueue.arn],
          conditions: { Bool: { "aws:SecureTransport": "false" } },
        },
      ]),
    });

    // Both secrets hold credentials another party issues and changes; a rotation function here could
    // not create new ones, so they are rotated by putting the new value (docs/operator-guide.md).
    const secret = (name: string, description: string, noRotationReason: string) => {
      const s = new SecretsmanagerSecret(this, `${name}-secret`, {
        name: naming.name(name),
        description,
        kmsKeyId: this.key.arn,
        recoveryWindowInDays: props.forceDestroy ? 0 : 30,
      });
      skipPolicyCheck(s, "CKV2_AWS_57", noRotationReason);
      return s;
    };
    this.apiCredentials = secret(
      "api-credentials",
      'Credentials of the external API: {"token": "…"} or {"header": "…", "value": "…"}',
      "the API's provider issues these credentials; no rotation function can mint new ones, so operators put the new value when the provider rotates it (operator guide)",
    );

    this.schedulerRole = new ServiceRole(this, "scheduler-role", {
      naming,
      name: "ingest-scheduler",
      service: "scheduler.amazonaws.com",
      accountId,
      sourceArns: [
        naming.arn({ service: "scheduler", region, account: accountId, resource: "schedule-group/default" }),
      ],
      description: "EventBridge Scheduler: invokes the api-ingest functions, dead-letters what it cannot deliver",
    });
    this.schedulerRole.addToPolicy({
      sid: "DeadLetters",
      actions: ["sqs:SendMessage"],
      resources: [this.deadLetterQueue.arn],
      keptBecause: DEAD_LETTER_ONLY,
    });
    this.key.grantEncryptDecrypt(this.schedulerRole, "sqs", DEAD_LETTER_ONLY);
    // Schedules store their input under the ingestion key; EventBridge Scheduler decrypts it with the execution role.
    this.schedulerRole.addToPolicy({
      sid: "ScheduleInput",
      actions: ["kms:Decrypt"],
      resources: [this.key.arn],
      keptBecause: SCHEDULE_INPUT,
    });

    const apiDatasets = datasets.filter((d) => d.engine === "lambda");
    const apiFunctions: Record<string, ApiIngestFunction> = {};
    if (apiDatasets.length) {
      const bundle = props.apiBundle ?? bundleFunction("api-ingest");
      const asset = new TerraformAsset(this, "api-ingest-bundle", {
        path: bundle.path,
        type: AssetType.FILE,
        assetHash: bundle.sha256,
      });
      for (const dataset of apiDatasets) {
        apiFunctions[dataset.name] = new ApiIngestFunction(this, `api-${dataset.name}`, {
          naming,
          accountId,
          region,
          dataset,
          lake,
          settings: props.api,
          bundle,
          asset,
          key: this.key,
          deadLetterQueue: this.deadLetterQueue,
          credentials: this.apiCredentials,
          schedulerRole: this.schedulerRole,
          logRetentionDays: props.logRetentionDays,
          state: this.state,
        });
      }
    }
    this.apiFunctions = apiFunctions;

    const streams: Record<string, EventStream> = {};
    for (const dataset of datasets.filter((d) => d.engine === "kinesis")) {
      streams[dataset.name] = new EventStream(this, `events-${dataset.name}`, {
        naming,
        accountId,
        region,
        dataset,
        lake,
        catalog,
        key: this.key,
        kinesis: props.kinesis,
        firehose: props.firehose,
        logRetentionDays: props.logRetentionDays,
      });
    }
    this.streams = streams;

    if (props.rds && datasets.some((d) => d.contract.source.kind === "rds")) {
      this.rdsCredentials = secret(
        "rds-source",
        'Credentials of the RDS source for the Glue JDBC connection: {"username": "…", "password": "…"}',
        "the source database belongs to the application that owns it; its team rotates this read-only user's password and puts the new value here (operator guide)",
      );
    }
    this.glue = new GlueJobs(this, "glue", {
      ...context,
      settings: props.glue,
      artifacts: this.artifacts,
      scratch: this.scratch,
      state: this.state,
      key: this.key,
      rds: props.rds && this.rdsCredentials ? { source: props.rds, secret: this.rdsCredentials } : undefined,
      convertedByFirehose: new Set(
        Object.entries(streams)
          .filter(([, s]) => s.zone === "processed")
          .map(([name]) => name),
      ),
    });
    const extractSchedules: Record<string, ExtractSchedule> = {};
    for (const dataset of datasets) {
      const job = this.glue.jobs[dataset.name]?.extract;
      if (!job) continue;
      extractSchedules[dataset.name] = new ExtractSchedule(this, `extract-schedule-${dataset.name}`, {
        naming,
        accountId,
        region,
        dataset,
        job,
        settings: props.extracts,
        key: this.key,
      });
    }
    this.extractSchedules = extractSchedules;

    if (props.emrServerless) {
      this.emr = new EmrServerless(this, "emr", {
        ...context,
        artifacts: this.artifacts,
        scratch: this.scratch,
        settings: props.emrServerless,
      });
    }

    this.declareOutputs();
  }

  private declareOutputs(): void {
    stackOutput(
      this,
      "ingestion_api_function_names",
      mapValues(this.apiFunctions, (f) => f.function.functionName),
      "api-ingest Lambda function of each API dataset, by dataset name",
    );
    stackOutput(
      this,
      "ingestion_dead_letter_queue_url",
      this.deadLetterQueue.url,
      "SQS dead-letter queue of the API path: the handler's dead letters, Lambda's on-failure destination, the scheduler's",
    );
    stackOutput(
      this,
      "ingestion_api_credentials_secret_arn",
      this.apiCredentials.arn,
      "Secrets Manager secret with the external API's credentials (value put out of band)",
    );
    stackOutput(
      this,
      "ingestion_glue_job_names",
      mapValues(this.glue.jobs, (jobs) =>
        Object.fromEntries(
          Object.entries(jobs).flatMap(([step, j]): [string, string][] => (j ? [[step, j.job.name]] : [])),
        ),
      ),
      "Glue jobs of each dataset, by dataset name and step (extract, rawToProcessed, processedToConsumer)",
    );
    stackOutput(
      this,
      "ingestion_extract_schedule_names",
      mapValues(this.extractSchedules, (s) => ({ schedule: s.name, dead_letter_queue_url: s.deadLetter.url })),
      "EventBridge Scheduler schedule that starts each dataset's extract, with its dead-letter queue, by dataset name",
    );
    stackOutput(
      this,
      "ingestion_kinesis_stream_names",
      mapValues(this.streams, (s) => s.stream.name),
      "Kinesis data stream of each streaming dataset, by dataset name",
    );
    stackOutput(
      this,
      "ingestion_firehose_stream_names",
      mapValues(this.streams, (s) => s.firehose.name),
      "Firehose stream delivering each streaming dataset into the lake, by dataset name",
    );
    stackOutput(
      this,
      "ingestion_artifacts_bucket_name",
      this.artifacts.bucketName,
      "S3 bucket of the Glue job scripts and the dataplat_glue package, keyed by content hash",
    );
    stackOutput(
      this,
      "ingestion_scratch_bucket_name",
      this.scratch.bucketName,
      "S3 bucket of Glue temporary files and DynamoDB exports (expires after a few days)",
    );
    if (this.emr)
      stackOutput(
        this,
        "emr_serverless_application_id",
        this.emr.application.id,
        "EMR Serverless application for Spark jobs",
      );
  }
}
