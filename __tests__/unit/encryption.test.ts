/**
 * Encryption everywhere, in every environment: every resource that stores data carries one of our
 * KMS keys (customer-managed, rotation on), with the one documented exception (the access-log
 * bucket: S3 log delivery cannot write SSE-KMS); TLS is enforced wherever a policy can enforce it.
 *
 * Every resource type in a stack must be classified below — as encrypted by a rule, or as holding
 * no data of its own (with why) — so a module that adds a new kind of store cannot skip this test.
 */
import { policySkipsOf } from "../../modules/shared/policy-checks";
import { list, type Statement } from "../helpers/policies";
import {
  parsePolicy,
  resources,
  synthAllWithMetadata,
  type SynthesizedResource,
  type TerraformJson,
} from "../helpers/synth";

/* eslint-disable @typescript-eslint/no-explicit-any -- resources of the synthesized Terraform JSON */
type Check = (r: SynthesizedResource, json: TerraformJson) => string | undefined;

/** A customer-managed key of this stack: a reference to one of its aws_kms_key resources. */
const OUR_KEY = /^\$\{aws_kms_key\.[A-Za-z0-9_-]+\.arn\}$/;
const ourKey = (value: unknown, what: string) =>
  typeof value === "string" && OUR_KEY.test(value)
    ? undefined
    : `${what} is ${JSON.stringify(value)}, not one of the stack's KMS keys`;
const ref = (r: SynthesizedResource) => `\${${r.type}.${r.name}.`;

/** Deny statements that refuse every non-TLS request. */
const deniesPlainText = (statements: Statement[], actions: (a: string) => boolean) =>
  statements.some(
    (s) =>
      s.Effect === "Deny" &&
      s.Principal === "*" &&
      s.Condition?.Bool?.["aws:SecureTransport"] === "false" &&
      list(s.Action).some(actions),
  );

/** Stores of data, and how each must be encrypted. */
const ENCRYPTED: Record<string, Check> = {
  aws_s3_bucket: (r, json) => {
    const sse = resources(json, "aws_s3_bucket_server_side_encryption_configuration").find(
      (c) => c.body.bucket === `${ref(r)}id}`,
    );
    if (!sse) return "no default encryption";
    const rule = list(sse.body.rule)[0] as any;
    const byDefault = rule.apply_server_side_encryption_by_default;
    if (byDefault.sse_algorithm === "aws:kms")
      return (
        ourKey(byDefault.kms_master_key_id, "default key") ?? (rule.bucket_key_enabled ? undefined : "no S3 bucket key")
      );
    // The documented exception: SSE-S3 only where the bucket records why (the access-log bucket).
    const skip = policySkipsOf(r.body).find((s) => s.check === "CKV_AWS_145");
    return byDefault.sse_algorithm === "AES256" && skip
      ? undefined
      : `default encryption ${byDefault.sse_algorithm} without a recorded reason`;
  },
  aws_s3_object: (r) =>
    r.body.server_side_encryption === "aws:kms" ? ourKey(r.body.kms_key_id, "object key") : "uploaded without SSE-KMS",
  aws_sns_topic: (r) => ourKey(r.body.kms_master_key_id, "topic key"),
  aws_sqs_queue: (r) =>
    r.body.sqs_managed_sse_enabled
      ? "SQS-managed encryption instead of our key"
      : ourKey(r.body.kms_master_key_id, "queue key"),
  aws_cloudwatch_log_group: (r) => ourKey(r.body.kms_key_id, "log group key"),
  aws_kinesis_stream: (r) =>
    r.body.encryption_type === "KMS" ? ourKey(r.body.kms_key_id, "stream key") : "stream not KMS-encrypted",
  aws_kinesis_firehose_delivery_stream: (r, json) => {
    const source = r.body.kinesis_source_configuration;
    if (source) {
      // Records rest in the (encrypted) Kinesis stream; Firehose's own SSE applies to Direct PUT only.
      const stream = resources(json, "aws_kinesis_stream").find((s) => source.kinesis_stream_arn === `${ref(s)}arn}`);
      if (!stream) return "reads a stream this stack does not encrypt";
    } else if (!(
      r.body.server_side_encryption?.enabled && r.body.server_side_encryption.key_type === "CUSTOMER_MANAGED_CMK"
    )) {
      return "Direct PUT stream without a customer-managed key";
    }
    return ourKey(r.body.extended_s3_configuration?.kms_key_arn, "delivery key");
  },
  aws_glue_security_configuration: (r) => {
    const c = r.body.encryption_configuration;
    if (c.cloudwatch_encryption.cloudwatch_encryption_mode !== "SSE-KMS") return "Glue logs not SSE-KMS";
    if (c.job_bookmarks_encryption.job_bookmarks_encryption_mode !== "CSE-KMS") return "job bookmarks not CSE-KMS";
    // S3: every zone's own bucket key applies (documented on the resource, CKV_AWS_99).
    if (
      c.s3_encryption.s3_encryption_mode === "DISABLED" &&
      !policySkipsOf(r.body).some((s) => s.check === "CKV_AWS_99")
    )
      return "S3 encryption off without a recorded reason";
    return (
      ourKey(c.cloudwatch_encryption.kms_key_arn, "Glue log key") ??
      ourKey(c.job_bookmarks_encryption.kms_key_arn, "bookmark key")
    );
  },
  aws_glue_data_catalog_encryption_settings: (r) => {
    const s = r.body.data_catalog_encryption_settings;
    if (s.encryption_at_rest.catalog_encryption_mode !== "SSE-KMS") return "catalog not SSE-KMS";
    if (!s.connection_password_encryption.return_connection_password_encrypted)
      return "connection passwords returned in clear";
    return (
      ourKey(s.encryption_at_rest.sse_aws_kms_key_id, "catalog key") ??
      ourKey(s.connection_password_encryption.aws_kms_key_id, "connection password key")
    );
  },
  aws_glue_job: (r, json) => securityConfigurationOf(r, json),
  aws_glue_crawler: (r, json) => securityConfigurationOf(r, json),
  aws_athena_workgroup: (r) => {
    const c = r.body.configuration;
    if (!c.enforce_workgroup_configuration) return "clients may override the result encryption";
    const e = c.result_configuration.encryption_configuration;
    return e.encryption_option === "SSE_KMS"
      ? ourKey(e.kms_key_arn, "results key")
      : `results encrypted with ${e.encryption_option}`;
  },
  aws_redshiftserverless_namespace: (r) =>
    r.body.manage_admin_password === true
      ? (ourKey(r.body.kms_key_id, "warehouse key") ??
        ourKey(r.body.admin_password_secret_kms_key_id, "admin secret key"))
      : "admin password not managed in Secrets Manager",
  aws_lambda_function: (r) => ourKey(r.body.kms_key_arn, "environment variable key"),
  aws_secretsmanager_secret: (r) => ourKey(r.body.kms_key_id, "secret key"),
  aws_scheduler_schedule: (r) => ourKey(r.body.kms_key_arn, "schedule input key"),
  aws_dynamodb_table: (r) =>
    r.body.server_side_encryption?.enabled
      ? ourKey(r.body.server_side_encryption.kms_key_arn, "table key")
      : "table without SSE-KMS",
  aws_kms_key: (r) => (r.body.enable_key_rotation === true ? undefined : "key rotation off"),
};

/** Resource types that store no data of their own, or whose data the service encrypts in ways no setting changes. */
const NO_DATA_AT_REST: Record<string, string> = {
  aws_athena_named_query: "a query text (code)",
  aws_cloudwatch_dashboard: "a dashboard definition",
  aws_cloudwatch_event_rule: "an event pattern or schedule",
  aws_cloudwatch_event_target: "a rule's target",
  aws_cloudwatch_log_stream: "a stream inside an encrypted log group",
  aws_cloudwatch_metric_alarm: "an alarm definition",
  aws_default_security_group: "network configuration",
  aws_emrserverless_application: "compute only; job runs read and write the encrypted lake buckets",
  aws_kinesisanalyticsv2_application:
    "compute only; its state (checkpoints, snapshots) is encrypted by Managed Flink, its input is the KMS-encrypted stream and its output the encrypted consumer bucket",
  aws_flow_log: "delivers to the encrypted access-log bucket",
  aws_glue_catalog_database: "metadata in the catalog the catalog encryption settings cover",
  aws_glue_catalog_table: "metadata in the catalog the catalog encryption settings cover",
  aws_glue_connection: "connection metadata; its credentials are a Secrets Manager reference (checked for TLS below)",
  aws_iam_role: "IAM",
  aws_iam_role_policy: "IAM",
  aws_kms_alias: "a name for a key",
  aws_lakeformation_data_lake_settings: "permissions",
  aws_lakeformation_permissions: "permissions",
  aws_lakeformation_resource: "a location registration",
  aws_lambda_function_event_invoke_config: "retry and destination settings",
  aws_pipes_pipe: "moves messages between the encrypted queue and the state machine; stores none",
  aws_quicksight_data_set:
    "Athena-backed (direct query) over the encrypted lake; SPICE storage is encrypted by QuickSight",
  aws_quicksight_data_source: "a connection to the Athena workgroup",
  aws_redshiftdata_statement: "a SQL statement run at apply time",
  aws_redshiftserverless_workgroup: "compute of the encrypted namespace (checked for TLS below)",
  aws_route_table: "network configuration",
  aws_route_table_association: "network configuration",
  aws_s3_bucket_lifecycle_configuration: "bucket configuration",
  aws_s3_bucket_logging: "bucket configuration",
  aws_s3_bucket_notification: "bucket configuration",
  aws_s3_bucket_ownership_controls: "bucket configuration",
  aws_s3_bucket_policy: "bucket configuration (checked for TLS below)",
  aws_s3_bucket_public_access_block: "bucket configuration",
  aws_s3_bucket_server_side_encryption_configuration: "the bucket encryption checked above",
  aws_s3_bucket_versioning: "bucket configuration",
  aws_security_group: "network configuration",
  aws_sfn_state_machine:
    "execution history is encrypted by Step Functions (AWS-owned key); inputs and outputs hold object keys, not records",
  aws_sns_topic_policy: "topic configuration (checked for TLS below)",
  aws_sns_topic_subscription: "topic configuration",
  aws_sqs_queue_policy: "queue configuration (checked for TLS below)",
  aws_sqs_queue_redrive_allow_policy: "queue configuration",
  aws_subnet: "network configuration",
  aws_vpc: "network configuration",
  aws_vpc_endpoint: "network configuration",
  aws_vpc_security_group_egress_rule: "network configuration",
  aws_vpc_security_group_ingress_rule: "network configuration",
};

function securityConfigurationOf(r: SynthesizedResource, json: TerraformJson): string | undefined {
  const [config] = resources(json, "aws_glue_security_configuration");
  if (!config) return "no Glue security configuration in the stack";
  const value = r.body.security_configuration;
  return value === config.body.name || value === `${ref(config)}name}`
    ? undefined
    : `security_configuration is ${JSON.stringify(value)}`;
}

describe.each(synthAllWithMetadata().map((e) => [e.config.name, e] as const))("%s", (_env, { json }) => {
  const all = resources(json);

  it("every resource type is classified: a store with its encryption rule, or configuration that holds no data", () => {
    const types = [...new Set(all.map((r) => r.type))];
    expect(types.filter((t) => !(t in ENCRYPTED) && !(t in NO_DATA_AT_REST))).toEqual([]);
    // Every kind of store the platform deploys is present (DynamoDB tables are sources outside the stack).
    for (const t of [
      "aws_s3_bucket",
      "aws_sns_topic",
      "aws_sqs_queue",
      "aws_cloudwatch_log_group",
      "aws_kinesis_stream",
      "aws_kinesis_firehose_delivery_stream",
      "aws_glue_security_configuration",
      "aws_glue_data_catalog_encryption_settings",
      "aws_athena_workgroup",
      "aws_lambda_function",
    ]) {
      expect(types).toContain(t);
    }
  });

  it("every store is encrypted with one of the stack's KMS keys (or its documented exception)", () => {
    const problems = all
      .filter((r) => r.type in ENCRYPTED)
      .flatMap((r) => {
        const problem = ENCRYPTED[r.type](r, json);
        return problem ? [`${r.type}.${r.name}: ${problem}`] : [];
      });
    expect(problems).toEqual([]);
  });

  it("the only bucket without a KMS key is the access-log bucket", () => {
    const sseS3 = resources(json, "aws_s3_bucket_server_side_encryption_configuration").filter(
      (c) => c.body.rule[0].apply_server_side_encryption_by_default.sse_algorithm !== "aws:kms",
    );
    expect(sseS3.map((c) => c.body.bucket)).toEqual([
      expect.stringMatching(/^\$\{aws_s3_bucket\.lake_access-logs_bucket_[0-9A-F]{8}\.id\}$/),
    ]);
  });

  it("TLS: every bucket, queue and topic policy denies plain-text requests", () => {
    const problems: string[] = [];
    const policyOf = (type: string, attr: string, target: SynthesizedResource, refAttr: string) =>
      resources(json, type).find((p) => p.body[attr] === `${ref(target)}${refAttr}}`);
    for (const bucket of resources(json, "aws_s3_bucket")) {
      const policy = policyOf("aws_s3_bucket_policy", "bucket", bucket, "id");
      if (!policy || !deniesPlainText(parsePolicy(policy.body.policy).Statement, (a) => a === "s3:*"))
        problems.push(`${bucket.name}: no TLS-only bucket policy`);
    }
    for (const queue of resources(json, "aws_sqs_queue")) {
      const policy = policyOf("aws_sqs_queue_policy", "queue_url", queue, "url");
      if (!policy || !deniesPlainText(parsePolicy(policy.body.policy).Statement, (a) => a === "sqs:*"))
        problems.push(`${queue.name}: no TLS-only queue policy`);
    }
    for (const topic of resources(json, "aws_sns_topic")) {
      const policy = policyOf("aws_sns_topic_policy", "arn", topic, "arn");
      if (!policy || !deniesPlainText(parsePolicy(policy.body.policy).Statement, (a) => a === "sns:Publish"))
        problems.push(`${topic.name}: no TLS-only topic policy`);
    }
    expect(problems).toEqual([]);
  });

  it("TLS to the RDS source and to the warehouse", () => {
    for (const c of resources(json, "aws_glue_connection"))
      expect(c.body.connection_properties).toMatchObject({ JDBC_ENFORCE_SSL: "true" });
    for (const c of resources(json, "aws_glue_connection"))
      expect(Object.keys(c.body.connection_properties)).not.toContain("PASSWORD");
    for (const w of resources(json, "aws_redshiftserverless_workgroup")) {
      expect(w.body.config_parameter).toContainEqual({ parameter_key: "require_ssl", parameter_value: "true" });
      expect(w.body.publicly_accessible).toBe(false);
    }
  });
});

it("the rules catch a store without our key", () => {
  const stub = (type: string, body: Record<string, any>): SynthesizedResource => ({ type, name: "x", body });
  const json = { resource: {} } as TerraformJson;
  expect(ENCRYPTED.aws_sqs_queue(stub("aws_sqs_queue", { sqs_managed_sse_enabled: true }), json)).toBe(
    "SQS-managed encryption instead of our key",
  );
  expect(ENCRYPTED.aws_sns_topic(stub("aws_sns_topic", { kms_master_key_id: "alias/aws/sns" }), json)).toBe(
    'topic key is "alias/aws/sns", not one of the stack\'s KMS keys',
  );
  expect(ENCRYPTED.aws_cloudwatch_log_group(stub("aws_cloudwatch_log_group", {}), json)).toBe(
    "log group key is undefined, not one of the stack's KMS keys",
  );
  expect(ENCRYPTED.aws_s3_bucket(stub("aws_s3_bucket", { "//": {} }), json)).toBe("no default encryption");
  expect(ENCRYPTED.aws_kinesis_stream(stub("aws_kinesis_stream", { encryption_type: "NONE" }), json)).toBe(
    "stream not KMS-encrypted",
  );
});
