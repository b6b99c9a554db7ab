/**
 * Least privilege of the roles the ingestion module creates: each trusted by its one service (with
 * the source conditions that service documents), each reaching only its dataset's folders in the
 * zones its step reads and writes, and nothing with a wildcard action.
 */
import { asArray, byPath, parsePolicy, refOf, resources, synthAll, type TerraformJson } from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: Record<string, unknown>;
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

const BUCKETS: Record<string, string> = {
  raw: "lake/raw/bucket",
  processed: "lake/processed/bucket",
  consumer: "lake/consumer/bucket",
  quarantine: "lake/quarantine/bucket",
  artifacts: "ingestion/artifacts/bucket",
  scratch: "ingestion/scratch/bucket",
  state: "ingestion/state/bucket",
};

/** The role (and its inline policy) at a construct path. */
function roleAt(json: TerraformJson, path: string): { trust: Statement[]; statements: Statement[] } {
  const role = byPath(json, "aws_iam_role", path);
  return {
    trust: parsePolicy(role.body.assume_role_policy).Statement,
    statements: parsePolicy(byPath(json, "aws_iam_role_policy", `${path}/policy`).body.policy).Statement,
  };
}

/** Object access as "<bucket>:<prefix>" → actions, from statements on "<bucket arn>/<prefix>*". */
function objectAccess(json: TerraformJson, statements: Statement[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, path] of Object.entries(BUCKETS)) {
    const arn = `${refOf(byPath(json, "aws_s3_bucket", path))}.arn}/`;
    for (const s of statements) {
      for (const r of asArray(s.Resource)) {
        if (!r.startsWith(arn)) continue;
        const key = `${name}:${r.slice(arn.length)}`;
        out[key] = [...new Set([...(out[key] ?? []), ...asArray(s.Action)])].sort();
      }
    }
  }
  return out;
}

const READ = ["s3:GetObject"];
const WRITE = ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:PutObject"];
const WRITE_DELETE = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:ListMultipartUploadParts", "s3:PutObject"];
const READ_WRITE_DELETE = [...READ, ...WRITE_DELETE].sort();

describe.each(synthAll().map((e) => [e.config.name, e] as const))("%s", (_env, { config, json }) => {
  const { region, accountId } = config;
  const prefix = `dataplat-${config.name}`;

  it("no ingestion statement allows a wildcard action", () => {
    const policies = resources(json, "aws_iam_role_policy").filter((p) => p.name.startsWith("ingestion_"));
    expect(policies.length).toBeGreaterThan(10);
    for (const p of policies) {
      for (const s of parsePolicy(p.body.policy).Statement as Statement[]) {
        expect(s.Effect).toBe("Allow");
        for (const action of asArray(s.Action))
          expect({ policy: p.name, action, wildcard: action.includes("*") }).toEqual({
            policy: p.name,
            action,
            wildcard: false,
          });
      }
    }
  });

  it("the API function writes its dataset's raw folder and its quarantine folder, reads and writes only its own high-water mark, and reads nothing from the lake", () => {
    const { trust, statements } = roleAt(json, "ingestion/api-shipments/role");
    expect(trust).toEqual([
      {
        Sid: "TrustOneService",
        Effect: "Allow",
        Principal: { Service: "lambda.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: {
          StringEquals: { "aws:SourceAccount": accountId },
          ArnLike: { "aws:SourceArn": [`arn:aws:lambda:${region}:${accountId}:function:${prefix}-ingest-shipments`] },
        },
      },
    ]);
    expect(objectAccess(json, statements)).toEqual({
      "raw:shipments/*": WRITE,
      "quarantine:shipments/api_ingest/*": WRITE,
      "state:shipments/api-ingest/*": [...READ, ...WRITE].sort(),
    });
    const stateArn = `${refOf(byPath(json, "aws_s3_bucket", BUCKETS.state))}.arn}`;
    expect(statements.filter((s) => asArray(s.Resource).includes(stateArn)).map((s) => s.Condition)).toEqual([
      { StringLike: { "s3:prefix": ["shipments/api-ingest/*"] } },
    ]);
    const byAction = (a: string) =>
      statements.filter((s) => asArray(s.Action).includes(a)).flatMap((s) => asArray(s.Resource));
    expect(byAction("sqs:SendMessage")).toEqual([
      `${refOf(byPath(json, "aws_sqs_queue", "ingestion/dead-letters"))}.arn}`,
    ]);
    expect(byAction("secretsmanager:GetSecretValue")).toEqual([
      `${refOf(byPath(json, "aws_secretsmanager_secret", "ingestion/api-credentials-secret"))}.arn}`,
    ]);
    expect(byAction("logs:PutLogEvents")).toEqual([
      `${refOf(byPath(json, "aws_cloudwatch_log_group", "ingestion/api-shipments/logs"))}.arn}:*`,
    ]);
    // KMS: the zone keys through S3, the ingestion key through SQS, Secrets Manager, Lambda and S3 (the state bucket) only.
    const kms = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith("kms:")));
    const via = kms
      .map((s) => {
        const service = defined(s.Condition, "the KMS statement's condition").StringEquals["kms:ViaService"];
        return `${asArray(s.Resource)[0]
          .split(".")[1]
          .replace(/_[0-9A-F]{8}$/, "")} via ${service}`;
      })
      .sort();
    expect(via).toEqual(
      [
        `ingestion_key via lambda.${region}.amazonaws.com`,
        `ingestion_key via s3.${region}.amazonaws.com`, // reading the mark
        `ingestion_key via s3.${region}.amazonaws.com`, // writing it
        `ingestion_key via secretsmanager.${region}.amazonaws.com`,
        `ingestion_key via sqs.${region}.amazonaws.com`,
        `lake_quarantine-key via s3.${region}.amazonaws.com`,
        `lake_raw-key via s3.${region}.amazonaws.com`,
      ].sort(),
    );
  });

  it("the scheduler may only invoke the API functions and dead-letter to the queue", () => {
    const { trust, statements } = roleAt(json, "ingestion/scheduler-role");
    expect(trust[0].Principal).toEqual({ Service: "scheduler.amazonaws.com" });
    expect(trust[0].Condition).toEqual({
      StringEquals: { "aws:SourceAccount": accountId },
      ArnLike: { "aws:SourceArn": [`arn:aws:scheduler:${region}:${accountId}:schedule-group/default`] },
    });
    const fn = `${refOf(byPath(json, "aws_lambda_function", "ingestion/api-shipments/function"))}.arn}`;
    const actions = statements
      .filter((s) => !asArray(s.Action)[0].startsWith("kms:"))
      .map((s) => [asArray(s.Action), asArray(s.Resource)]);
    expect(actions).toEqual([
      [["sqs:SendMessage"], [`${refOf(byPath(json, "aws_sqs_queue", "ingestion/dead-letters"))}.arn}`]],
      [["lambda:InvokeFunction"], [fn, `${fn}:*`]],
    ]);
  });

  describe.each(["orders", "customers", "clickstream", "shipments"])("%s jobs", (dataset) => {
    it("raw → processed: reads its raw folder and its own runs' manifests, rewrites its processed folder and its quarantine folder, nothing else of the lake", () => {
      const { trust, statements } = roleAt(json, `ingestion/glue/${dataset}-raw_to_processed-role`);
      expect(trust[0].Principal).toEqual({ Service: "glue.amazonaws.com" });
      expect(objectAccess(json, statements)).toEqual({
        [`raw:${dataset}/*`]: READ,
        [`quarantine:pipeline-manifests/${dataset}/*`]: READ,
        [`processed:${dataset}/*`]: READ_WRITE_DELETE,
        [`processed:${dataset}`]: READ, // the folder's own key: Spark's S3 file system stats it
        [`quarantine:${dataset}/raw_to_processed/*`]: READ_WRITE_DELETE,
        "artifacts:glue/*": READ,
        [`scratch:glue-temp/${prefix}-${dataset}-raw-to-processed/*`]: READ_WRITE_DELETE,
      });
    });

    it("processed → consumer: reads its processed folder and raw → processed's run summaries, rewrites its consumer folder, writes its run summary", () => {
      const { statements } = roleAt(json, `ingestion/glue/${dataset}-processed_to_consumer-role`);
      expect(objectAccess(json, statements)).toEqual({
        [`processed:${dataset}/*`]: READ,
        [`processed:${dataset}`]: READ,
        [`quarantine:${dataset}/raw_to_processed/runs/*`]: READ,
        [`consumer:${dataset}/*`]: READ_WRITE_DELETE,
        [`consumer:${dataset}`]: READ,
        [`quarantine:${dataset}/processed_to_consumer/runs/*`]: WRITE,
        "artifacts:glue/*": READ,
        [`scratch:glue-temp/${prefix}-${dataset}-processed-to-consumer/*`]: READ_WRITE_DELETE,
      });
    });
  });

  it("the RDS extract lands its raw folder, uses its own connection and secret, and creates network interfaces only in this account and region", () => {
    const { statements } = roleAt(json, "ingestion/glue/orders-rds_extract-role");
    expect(objectAccess(json, statements)).toEqual({
      "raw:orders/*": READ_WRITE_DELETE,
      "raw:_staging/orders/*": READ_WRITE_DELETE, // the run's scratch folder, beside the dataset's
      "artifacts:glue/*": READ,
      [`scratch:glue-temp/${prefix}-orders-rds-extract/*`]: READ_WRITE_DELETE,
    });
    const sid = (id: string) =>
      defined(
        statements.find((s) => s.Sid === id),
        `the statement ${id}`,
      );
    expect(asArray(sid("Connection").Resource)).toEqual([
      `arn:aws:glue:${region}:${accountId}:catalog`,
      `arn:aws:glue:${region}:${accountId}:connection/${prefix}-rds-source`,
    ]);
    expect(asArray(sid("DatabaseCredentials").Resource)).toEqual([
      `${refOf(byPath(json, "aws_secretsmanager_secret", "ingestion/rds-source-secret"))}.arn}`,
    ]);
    for (const r of [
      ...asArray(sid("ConnectionInterfaces").Resource),
      ...asArray(sid("ConnectionInterfaceCleanup").Resource),
    ]) {
      expect(r.startsWith(`arn:aws:ec2:${region}:${accountId}:`)).toBe(true);
    }
  });

  it("the DynamoDB extract exports only its source table, into its own scratch folder, keeps its own export history and records deletions in its own quarantine folder", () => {
    const { statements } = roleAt(json, "ingestion/glue/customers-dynamodb_extract-role");
    expect(objectAccess(json, statements)).toEqual({
      "raw:customers/*": READ_WRITE_DELETE,
      "raw:_staging/customers/*": READ_WRITE_DELETE,
      "artifacts:glue/*": READ,
      [`scratch:glue-temp/${prefix}-customers-dynamodb-extract/*`]: READ_WRITE_DELETE,
      "scratch:dynamodb-exports/customers/*": [...READ_WRITE_DELETE, "s3:PutObjectAcl"].sort(),
      "state:customers/dynamodb-extract/*": [...READ, ...WRITE].sort(),
      "quarantine:customers/dynamodb_extract/deletions/*": WRITE,
    });
    const table = `arn:aws:dynamodb:${region}:${accountId}:table/customers`;
    const dynamodb = statements
      .filter((s) => asArray(s.Action).some((a) => a.startsWith("dynamodb:")))
      .map((s) => [asArray(s.Action), asArray(s.Resource)]);
    expect(dynamodb).toEqual([
      [["dynamodb:ExportTableToPointInTime"], [table]],
      [["dynamodb:DescribeExport"], [`${table}/export/*`]],
    ]);
  });

  it("Firehose reads its stream and writes its dataset's raw folder and error folder only", () => {
    const { trust, statements } = roleAt(json, "ingestion/events-clickstream/role");
    expect(trust[0].Principal).toEqual({ Service: "firehose.amazonaws.com" });
    expect(defined(trust[0].Condition, "the trust statement's condition").ArnLike).toEqual({
      "aws:SourceArn": [`arn:aws:firehose:${region}:${accountId}:deliverystream/${prefix}-clickstream`],
    });
    expect(objectAccess(json, statements)).toEqual({
      "raw:clickstream/*": [...READ, ...WRITE].sort(),
      "raw:_firehose-errors/clickstream/*": [...READ, ...WRITE].sort(),
    });
    const kinesis = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith("kinesis:")));
    expect(kinesis.flatMap((s) => asArray(s.Resource))).toEqual([
      `${refOf(byPath(json, "aws_kinesis_stream", "ingestion/events-clickstream/kinesis"))}.arn}`,
    ]);
    expect(kinesis.flatMap((s) => asArray(s.Action)).every((a) => /^kinesis:(Describe|Get|List)/.test(a))).toBe(true);
  });

  it("EMR Serverless job runs (where enabled) read processed and write consumer, nothing in raw or quarantine", () => {
    if (!config.ingestion.emrServerless.enabled) {
      expect(resources(json, "aws_iam_role").map((r) => r.body.name)).not.toContain(`${prefix}-emr-runtime`);
      return;
    }
    const { trust, statements } = roleAt(json, "ingestion/emr/runtime-role");
    expect(trust[0].Principal).toEqual({ Service: "emr-serverless.amazonaws.com" });
    expect(defined(trust[0].Condition, "the trust statement's condition").ArnLike).toEqual({
      "aws:SourceArn": [`arn:aws:emr-serverless:${region}:${accountId}:/applications/*`],
    });
    const zones = new Set(Object.keys(objectAccess(json, statements)).map((k) => k.split(":")[0]));
    expect([...zones].sort()).toEqual(["artifacts", "consumer", "processed", "scratch"]);
    for (const [key, actions] of Object.entries(objectAccess(json, statements))) {
      if (key.startsWith("processed:")) expect(actions).toEqual(READ);
    }
  });
});
