/**
 * A module's own check failed at synth. Like aws-cdk's `ValidationError`: the message starts with
 * the construct path (where to look) and ends with a stable code (which check; what tests and
 * searches match on, while the wording may improve), e.g.
 * `dev/orchestration: dataset x has two pipelines [ORCHESTRATION_DUPLICATE_PIPELINE]`.
 *
 * Configuration errors are `ConfigError` (environment, field, rule) and contract errors
 * `ContractError`; this is for what only a module can see.
 */
import type { IConstruct } from "constructs";

/** Every check a module makes, with what it refuses. */
export const VALIDATION_CODES = {
  OBSERVABILITY_NOT_SYNTHESIZED: "the discovered resources are read before synth discovered them",
  OBSERVABILITY_NO_ON_CALL_TOPIC: 'alarms page (alarms.notify "page") but no on-call topic was given',
  OBSERVABILITY_COMPUTED_TIMEOUT: "a Lambda's timeout is computed; its duration alarm needs seconds",
  OBSERVABILITY_COMPUTED_DESTINATION: "a Firehose destination is computed; its freshness alarm needs it",
  OBSERVABILITY_COMPUTED_FUNCTION_NAME: "a Lambda's name is computed; its log group cannot be created",
  OBSERVABILITY_UNNAMED_LOG_GROUP: "a log group has no name; the logs key policy cannot name it",
  ORCHESTRATION_DUPLICATE_SUBSCRIBER: "two subscribers share a name",
  ORCHESTRATION_COMPUTED_RAW_BUCKET: "the raw bucket's name is computed; the trigger's event pattern needs it",
  ORCHESTRATION_DUPLICATE_PIPELINE: "a dataset is given two pipelines",
  ORCHESTRATION_NO_RAW_CRAWLER: "a pipelined dataset does not live in the raw zone",
  PIPELINE_COMPUTED_RUN_RECORDS_BUCKET: "the quarantine bucket's name is computed; run paths need it",
  PIPELINE_CONCURRENT_JOB_RUNS: "a pipeline job allows more than one concurrent run",
  ANALYTICS_WAREHOUSE_WITHOUT_NETWORK: "the warehouse is asked for without a network",
  WAREHOUSE_NO_SECURITY_GROUP: "the network has no warehouse security group",
  NETWORK_NO_WAREHOUSE_SECURITY_GROUP: "a warehouse client is allowed in without a warehouse security group",
  INGESTION_NOT_AN_API_SOURCE: "api-ingest is built for a dataset whose source is not an API",
  INGESTION_NO_STATE_BUCKET: "an incremental source is built without the ingestion state bucket",
  INGESTION_PARQUET_WITHOUT_PROCESSED_TABLE: "Firehose Parquet conversion for a dataset without a processed table",
  STREAM_SQL_NO_QUERIES: "a stream-SQL application is built for a dataset that declares no stream queries",
  STREAM_SQL_COMPUTED_STREAM_NAME: "the dataset's stream name is computed; the application's alarms need it",
} as const;
export type ValidationCode = keyof typeof VALIDATION_CODES;

export class ValidationError extends Error {
  override readonly name = "ValidationError";

  constructor(
    /** Which check failed. */
    readonly code: ValidationCode,
    message: string,
    /** The construct whose check failed (its path leads the message). */
    readonly scope: IConstruct,
  ) {
    super(`${scope.node.path}: ${message} [${code}]`);
  }
}
