/**
 * Which resources are "data", and the aspect that protects them where the environment asks
 * (`protection.preventDestroy`, required in prod). A resource is data when destroying it loses
 * something this repository and the sources cannot give back. The decision is made once, here, by
 * resource type — so a module that adds a bucket, a key or a queue is protected without doing
 * anything — and every type the platform uses is on one of the two lists (a test checks).
 */
import { IAspect, TerraformResource } from "cdktf";
import { IConstruct } from "constructs";

/** Data: `prevent_destroy` where the environment protects data. Each with what a destroy would lose. */
export const DATA_RESOURCE_TYPES: Readonly<Record<string, string>> = {
  aws_s3_bucket: "the lake's objects, quarantined records, access logs, query results, job artifacts",
  aws_kms_key: "everything encrypted under the key: it becomes unreadable once the key is deleted",
  aws_redshiftserverless_namespace: "the warehouse's tables and snapshots",
  aws_dynamodb_table: "its items",
  aws_kinesis_stream: "events not yet delivered by Firehose (up to the stream's retention)",
  aws_sqs_queue: "messages in flight and dead letters waiting for a redrive: each is a landing or a failure to act on",
  aws_secretsmanager_secret: "credentials set out of band: Terraform cannot recreate their values",
  aws_cloudwatch_log_group: "logs: the audit evidence of what ran and who called what",
};

/**
 * Considered and not data, with why: recreated identically from code and config, or holding
 * nothing beyond a few minutes. They stay replaceable, so renames and upgrades still apply.
 */
export const NOT_DATA_RESOURCE_TYPES: Readonly<Record<string, string>> = {
  aws_glue_catalog_database:
    "recreated from the dataset contracts; the data lives in the protected buckets (crawled raw tables are crawled again)",
  aws_glue_catalog_table: "generated from the dataset contracts, with partition projection: nothing to lose",
  aws_glue_job: "code and settings; a new job's first bookmarked run re-reads its source, and the jobs are idempotent",
  aws_glue_crawler: "settings",
  aws_glue_connection: "settings; its credentials are in a protected secret",
  aws_glue_security_configuration: "settings",
  aws_glue_data_catalog_encryption_settings: "settings",
  aws_sns_topic: "stores nothing: messages are delivered to the protected queues at once",
  aws_kinesis_firehose_delivery_stream: "buffers at most minutes; undelivered records stay in the protected stream",
  aws_sfn_state_machine: "a definition (code); execution history is AWS's and the pipelines can be re-run",
  aws_pipes_pipe: "moves messages between the protected queue and the state machine",
  aws_lambda_function: "code from the promoted artifact",
  aws_athena_workgroup: "settings; results live in the protected results bucket",
  aws_athena_named_query: "query text from the contracts",
  aws_emrserverless_application: "compute",
  aws_s3_object: "job scripts and packages uploaded from the repository under content hashes",
  aws_redshiftserverless_workgroup: "compute of the protected namespace",
  aws_redshiftdata_statement: "a statement run at apply time",
  aws_quicksight_data_set: "a definition over Athena",
  aws_quicksight_data_source: "a connection to the Athena workgroup",
  aws_scheduler_schedule: "a schedule",
};

/** Adds `prevent_destroy` to every resource whose type is data. */
export class DataProtectionAspect implements IAspect {
  visit(node: IConstruct): void {
    if (node instanceof TerraformResource && node.terraformResourceType in DATA_RESOURCE_TYPES) {
      node.lifecycle = { ...(node.lifecycle ?? {}), preventDestroy: true };
    }
  }
}
