/**
 * The light path: one api-ingest Lambda per API dataset, on the environment's schedule, writing
 * the raw zone, quarantining what is malformed, and dead-lettering what still fails.
 */
import type { IngestionConfig } from "../../environments";
import type { TerraformAsset } from "cdktf";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { LambdaFunctionEventInvokeConfig } from "@cdktf/provider-aws/lib/lambda-function-event-invoke-config";
import { SchedulerSchedule } from "@cdktf/provider-aws/lib/scheduler-schedule";
import type { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import type { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { Construct } from "constructs";
import { resolvedApiIncremental, type PartitionedDataset } from "../../datasets";
import type { Lake } from "../lake";
import { ValidationError } from "../shared/errors";
import type { Artifact } from "../shared/bundle";
import { defined } from "../shared/defined";
import type { EncryptionKey } from "../shared/encryption-key";
import { ServiceRole } from "../shared/iam";
import { DEAD_LETTER_ONLY, EARLIER_RUN_STATE, SECRET_DECRYPT, XRAY_TRACING } from "../shared/kept-reasons";
import { pascalCase, type Naming } from "../shared/naming";
import { skipPolicyCheck } from "../shared/policy-checks";
import type { SecureBucket } from "../shared/secure-bucket";

/** The API function's settings (the environment's `ingestion.api`). */
/** The environment's `ingestion.api` (each field is documented, with its range, in environments/schema.ts). */
export type ApiIngestSettings = IngestionConfig["api"];

/** Lambda runtime: Node.js 22 (the SDK's supported line); the bundle targets Node 20 syntax, so it also runs locally on 20. */
export const LAMBDA_RUNTIME = "nodejs22.x";
/** arm64: about 20% cheaper per GB-second than x86 for the same work; the bundle is plain JavaScript. */
export const LAMBDA_ARCHITECTURE = "arm64";
/** Metrics namespace of every function the platform runs. */
export const METRICS_NAMESPACE = "dataplat";

export interface ApiIngestFunctionProps {
  readonly naming: Naming;
  readonly accountId: string;
  readonly region: string;
  readonly dataset: PartitionedDataset;
  readonly lake: Lake;
  readonly settings: ApiIngestSettings;
  /** The deterministic zip of functions/api-ingest (one per app, shared by every stack). */
  readonly bundle: Artifact;
  /** The zip as this stack ships it: one asset, shared by every API function. */
  readonly asset: TerraformAsset;
  /** Encrypts the environment variables, the log group, the schedule's input and (through SQS) dead letters. */
  readonly key: EncryptionKey;
  readonly deadLetterQueue: SqsQueue;
  readonly credentials: SecretsmanagerSecret;
  /** The role EventBridge Scheduler invokes functions with. */
  readonly schedulerRole: ServiceRole;
  readonly logRetentionDays: number;
  /**
   * Holds the high-water mark of an incremental source (`<dataset>/api-ingest/mark.json`).
   * Required when the contract's `source.incremental` is `since`; unused for a full read.
   */
  readonly state?: SecureBucket;
}

/** Where a dataset's high-water mark lives in the state bucket (the function reads and writes only this prefix). */
export function markPrefix(dataset: PartitionedDataset): string {
  return `${dataset.prefix}api-ingest/`;
}

export class ApiIngestFunction extends Construct {
  readonly function: LambdaFunction;
  readonly name: string;
  readonly arn: string;
  readonly role: ServiceRole;
  readonly logGroup: CloudwatchLogGroup;
  readonly schedule: SchedulerSchedule;
  readonly invokeConfig: LambdaFunctionEventInvokeConfig;
  /** The first page the function fetches: the environment's base URL + the contract's path. */
  readonly apiUrl: string;

  constructor(scope: Construct, id: string, props: ApiIngestFunctionProps) {
    super(scope, id);
    const { naming, accountId, region, dataset, lake, settings, key } = props;
    const source = dataset.contract.source;
    if (source.kind !== "api")
      throw new ValidationError(
        "INGESTION_NOT_AN_API_SOURCE",
        `dataset ${dataset.name}: api-ingest serves api sources (got ${source.kind})`,
        this,
      );
    this.name = naming.name("ingest", dataset.name);
    this.apiUrl = new URL(source.path, settings.baseUrl).toString();
    const functionArn = naming.arn({
      service: "lambda",
      region,
      account: accountId,
      resource: `function:${this.name}`,
    });

    this.logGroup = new CloudwatchLogGroup(this, "logs", {
      name: `/aws/lambda/${this.name}`,
      retentionInDays: props.logRetentionDays,
      kmsKeyId: key.arn,
    });

    this.role = new ServiceRole(this, "role", {
      naming,
      name: `ingest-${dataset.name}`,
      service: "lambda.amazonaws.com",
      accountId,
      sourceArns: [functionArn],
      description: `api-ingest for ${dataset.name}: writes raw/${dataset.prefix}, quarantines to quarantine/${dataset.prefix}api_ingest/`,
    });
    this.role.addToPolicy({
      sid: "OwnLogs",
      actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
      resources: [`${this.logGroup.arn}:*`],
      keptBecause: {
        reason:
          "Lambda writes the function's logs with its execution role; the emulated runtime keeps them in its own log",
        citation: "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html",
      },
    });
    this.role.addToPolicy({
      sid: "Tracing",
      actions: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
      resources: ["*"],
      wildcardResourceReason: "X-Ray trace ingestion has no resource-level permissions",
      keptBecause: { ...XRAY_TRACING, citation: "https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html" },
    });
    lake.grantWrite("raw", this.role, dataset.prefix);
    lake.grantWrite("quarantine", this.role, `${dataset.prefix}api_ingest/`);
    this.role.addToPolicy({
      sid: "DeadLetters",
      actions: ["sqs:SendMessage"],
      resources: [props.deadLetterQueue.arn],
      keptBecause: DEAD_LETTER_ONLY,
    });
    key.grantEncryptDecrypt(this.role, "sqs", DEAD_LETTER_ONLY);
    this.role.addToPolicy({
      sid: "ApiCredentials",
      actions: ["secretsmanager:GetSecretValue"],
      resources: [props.credentials.arn],
    });
    key.grantDecrypt(this.role, "secretsmanager", SECRET_DECRYPT);
    key.grantDecrypt(this.role, "lambda", {
      reason:
        "Lambda decrypts the function's environment variables, encrypted with this key, with the execution role; the emulated runtime gets them in plain text",
      citation: "https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html",
    });
    const incremental = resolvedApiIncremental(source.incremental);
    if (incremental.kind === "since") {
      if (!props.state)
        throw new ValidationError(
          "INGESTION_NO_STATE_BUCKET",
          `dataset ${dataset.name}: an incremental API source needs the ingestion state bucket`,
          this,
        );
      props.state.grantReadWrite(this.role, markPrefix(dataset), { keptBecause: EARLIER_RUN_STATE });
    }

    this.function = new LambdaFunction(this, "function", {
      functionName: this.name,
      description: `Pages ${this.apiUrl} into the raw zone (${dataset.name})`,
      role: this.role.arn,
      runtime: LAMBDA_RUNTIME,
      architectures: [LAMBDA_ARCHITECTURE],
      handler: "index.handler",
      filename: props.asset.path,
      sourceCodeHash: props.bundle.base64Sha256,
      timeout: settings.timeoutSeconds,
      memorySize: settings.memoryMb,
      reservedConcurrentExecutions: settings.reservedConcurrency,
      kmsKeyArn: key.arn,
      tracingConfig: { mode: "Active" },
      loggingConfig: {
        logFormat: "JSON",
        logGroup: this.logGroup.name,
        applicationLogLevel: settings.logLevel,
        systemLogLevel: "WARN",
      },
      environment: {
        variables: {
          DATASET: dataset.name,
          DATASET_CONTRACT: JSON.stringify(dataset.jobContract()),
          API_URL: this.apiUrl,
          API_SECRET_ARN: props.credentials.arn,
          RAW_BUCKET: lake.zones.raw.bucket.bucketName,
          RAW_KMS_KEY_ARN: lake.zones.raw.key.arn,
          QUARANTINE_BUCKET: lake.zones.quarantine.bucket.bucketName,
          QUARANTINE_KMS_KEY_ARN: lake.zones.quarantine.key.arn,
          DEAD_LETTER_QUEUE_URL: props.deadLetterQueue.url,
          MAX_ATTEMPTS: String(settings.maxAttempts),
          BACKOFF_BASE_MS: String(settings.backoffBaseMs),
          REQUEST_TIMEOUT_MS: String(settings.requestTimeoutSeconds * 1000),
          MAX_PAGES: String(settings.maxPages),
          MAX_PAGE_BYTES: String(settings.maxPageBytes),
          MAX_RECORD_BYTES: String(settings.maxRecordBytes),
          INCREMENTAL: JSON.stringify(incremental),
          ...(incremental.kind === "since" && props.state
            ? {
                STATE_BUCKET: props.state.bucketName,
                STATE_KMS_KEY_ARN: defined(props.state.encryptionKey, "the ingestion state bucket's KMS key").arn,
              }
            : {}),
          POWERTOOLS_SERVICE_NAME: "api-ingest",
          POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
          POWERTOOLS_LOG_LEVEL: settings.logLevel,
          NODE_OPTIONS: "--enable-source-maps",
        },
      },
      dependsOn: [this.logGroup],
    });
    this.arn = this.function.arn;
    skipPolicyCheck(
      this.function,
      "CKV_AWS_116",
      "failed invocations go to the ingestion dead-letter queue through the on-failure destination (aws_lambda_function_event_invoke_config), which AWS recommends over a DLQ; both would deliver every failure twice",
    );
    skipPolicyCheck(
      this.function,
      "CKV_AWS_117",
      "it calls the external API over the internet, and the platform's private VPC has no NAT gateway by design (AWS APIs through endpoints only); it reaches AWS over TLS with its own role",
    );
    skipPolicyCheck(
      this.function,
      "CKV_AWS_272",
      "the zip is built deterministically from this commit and promoted as one artifact whose sha256 every apply verifies (GitOps) and Lambda checks (source_code_hash); no AWS Signer profile is set up",
    );

    // Function errors and crashes (after Lambda's own retries) land in the same queue as the
    // failures the handler dead-letters itself: one place holds every failure of the API path.
    this.invokeConfig = new LambdaFunctionEventInvokeConfig(this, "async", {
      functionName: this.function.functionName,
      maximumRetryAttempts: settings.asyncRetryAttempts,
      maximumEventAgeInSeconds: settings.maxEventAgeSeconds,
      destinationConfig: { onFailure: { destination: props.deadLetterQueue.arn } },
    });

    props.schedulerRole.addToPolicy({
      sid: `Invoke${pascalCase(dataset.name)}`,
      actions: ["lambda:InvokeFunction"],
      resources: [this.function.arn, `${this.function.arn}:*`],
    });
    this.schedule = new SchedulerSchedule(this, "schedule", {
      name: this.name,
      description: `Runs ${this.name}`,
      // The schedule's input is stored under our key; the scheduler role decrypts it to invoke (ingestion/index.ts).
      kmsKeyArn: key.arn,
      scheduleExpression: settings.schedule,
      scheduleExpressionTimezone: "UTC",
      flexibleTimeWindow: { mode: "OFF" },
      target: {
        arn: this.function.arn,
        roleArn: props.schedulerRole.arn,
        input: "{}",
        retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: settings.maxEventAgeSeconds },
        deadLetterConfig: { arn: props.deadLetterQueue.arn },
      },
    });
  }
}
