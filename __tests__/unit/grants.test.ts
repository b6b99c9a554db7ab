import { Testing, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Lake } from "../../modules/lake";
import {
  IGrantable,
  PolicyStatement,
  ServiceRole,
  assertLeastPrivilege,
  keptReasons,
  policyDocument,
  sidOf,
} from "../../modules/shared/iam";
import { Naming } from "../../modules/shared/naming";
import { parsePolicy, resources, TerraformJson } from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

const allow = (s: Partial<PolicyStatement>): PolicyStatement => ({
  actions: ["s3:GetObject"],
  resources: ["arn:aws:s3:::b/*"],
  ...s,
});
const tiering = { raw: {}, processed: {}, consumer: {}, quarantine: {} };

function stackWith(grant: (lake: Lake, role: ServiceRole) => void): TerraformJson {
  const stack = new TerraformStack(Testing.app(), "grants");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  const naming = new Naming({
    project: "dataplat",
    environment: "test",
    accountId: "111111111111",
    region: "eu-west-1",
  });
  const lake = new Lake(stack, "lake", {
    naming,
    accountId: "111111111111",
    region: "eu-west-1",
    lifecycle: tiering,
    noncurrentVersionExpirationDays: 30,
    accessLogRetentionDays: 365,
  });
  const role = new ServiceRole(stack, "job", {
    naming,
    name: "job",
    service: "glue.amazonaws.com",
    accountId: "111111111111",
  });
  grant(lake, role);
  return JSON.parse(Testing.synth(stack));
}

const bucketRef = (json: TerraformJson, zone: string) =>
  `aws_s3_bucket.${
    defined(
      resources(json, "aws_s3_bucket").find((b) => b.name.startsWith(`lake_${zone}_`)),
      `the ${zone} bucket`,
    ).name
  }`;
const keyRef = (json: TerraformJson, zone: string) =>
  `aws_kms_key.${
    defined(
      resources(json, "aws_kms_key").find((k) => k.name.startsWith(`lake_${zone}-key_`)),
      `the ${zone} key`,
    ).name
  }`;
const rolePolicy = (json: TerraformJson) => {
  const policies = resources(json, "aws_iam_role_policy");
  expect(policies).toHaveLength(1);
  return parsePolicy(policies[0].body.policy).Statement;
};

describe("lake grants", () => {
  it("grantRead scopes to the zone's bucket, the prefix, and decrypt with that zone's key through S3", () => {
    const json = stackWith((lake, role) => lake.grantRead("raw", role, "orders/"));
    const bucket = bucketRef(json, "raw");
    expect(rolePolicy(json)).toEqual([
      {
        Sid: "RawOrdersList",
        Effect: "Allow",
        Action: ["s3:GetBucketLocation", "s3:ListBucket"],
        Resource: `\${${bucket}.arn}`,
        Condition: { StringLike: { "s3:prefix": ["orders/*"] } },
      },
      { Sid: "RawOrdersRead", Effect: "Allow", Action: "s3:GetObject", Resource: `\${${bucket}.arn}/orders/*` },
      {
        Sid: "LakeRawKeyDecryptViaS3",
        Effect: "Allow",
        Action: "kms:Decrypt",
        Resource: `\${${keyRef(json, "raw")}.arn}`,
        Condition: { StringEquals: { "kms:ViaService": "s3.eu-west-1.amazonaws.com" } },
      },
    ]);
  });

  it("grantWrite allows put (and delete only when asked) under the prefix, and encrypt with that zone's key", () => {
    const json = stackWith((lake, role) => {
      lake.grantWrite("processed", role, "orders/", { allowDelete: true });
      lake.grantWrite("quarantine", role, "orders/");
    });
    const statements = rolePolicy(json);
    expect(statements).toEqual([
      {
        Sid: "ProcessedOrdersWrite",
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:DeleteObject"],
        Resource: `\${${bucketRef(json, "processed")}.arn}/orders/*`,
      },
      {
        Sid: "LakeProcessedKeyEncryptViaS3",
        Effect: "Allow",
        Action: ["kms:Decrypt", "kms:GenerateDataKey"],
        Resource: `\${${keyRef(json, "processed")}.arn}`,
        Condition: { StringEquals: { "kms:ViaService": "s3.eu-west-1.amazonaws.com" } },
      },
      {
        Sid: "QuarantineOrdersWrite",
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        Resource: `\${${bucketRef(json, "quarantine")}.arn}/orders/*`,
      },
      {
        Sid: "LakeQuarantineKeyEncryptViaS3",
        Effect: "Allow",
        Action: ["kms:Decrypt", "kms:GenerateDataKey"],
        Resource: `\${${keyRef(json, "quarantine")}.arn}`,
        Condition: { StringEquals: { "kms:ViaService": "s3.eu-west-1.amazonaws.com" } },
      },
    ]);
  });

  it("a grant on one zone never mentions another zone's bucket or key", () => {
    const json = stackWith((lake, role) => lake.grantReadWrite("consumer", role, "orders/"));
    const text = JSON.stringify(rolePolicy(json));
    for (const zone of ["raw", "processed", "quarantine"]) {
      expect(text).not.toContain(bucketRef(json, zone));
      expect(text).not.toContain(keyRef(json, zone));
    }
  });

  it("a role with no grants has no (empty, invalid) inline policy", () => {
    expect(
      resources(
        stackWith(() => undefined),
        "aws_iam_role_policy",
      ),
    ).toHaveLength(0);
  });

  it("a grant repeated is one statement; its kept reasons are recorded on the role, never rendered", () => {
    let held: readonly PolicyStatement[] = [];
    const json = stackWith((lake, role) => {
      lake.grantRead("raw", role, "orders/");
      lake.grantRead("raw", role, "orders/", { keptBecause: { reason: "used only on backfill" } });
      held = role.grants;
    });
    expect(rolePolicy(json).map((s) => s.Sid)).toEqual(["RawOrdersList", "RawOrdersRead", "LakeRawKeyDecryptViaS3"]);
    expect(JSON.stringify(json)).not.toContain("backfill");
    expect(held.map((s) => keptReasons(s).filter((k) => k.reason === "used only on backfill").length)).toEqual([
      1, 1, 1,
    ]);
  });
});

describe("statement ids", () => {
  const role = () => {
    const stack = new TerraformStack(Testing.app(), "sids");
    const naming = new Naming({ project: "dataplat", environment: "test", region: "eu-west-1" });
    return new ServiceRole(stack, "job", {
      naming,
      name: "job",
      service: "glue.amazonaws.com",
      accountId: "111111111111",
    });
  };

  it("come from words, alphanumeric", () => {
    expect(sidOf("raw", "orders/_staging/", "read")).toBe("RawOrdersStagingRead");
    expect(sidOf("lake-raw", "key", "decrypt", "via", "s3")).toBe("LakeRawKeyDecryptViaS3");
    expect(() => sidOf("raw", "${aws_s3_bucket.x.arn}")).toThrow("a sid cannot hold a Terraform reference");
  });

  it("are required on every role statement, and a different statement under a taken sid gets a number", () => {
    const r = role();
    expect(() => r.addToPolicy(allow({ sid: undefined }))).toThrow(
      'sids/job: IAM statement "" of s3:GetObject needs an alphanumeric sid',
    );
    expect(() => r.addToPolicy(allow({ sid: "Read-Orders" }))).toThrow("needs an alphanumeric sid");
    r.addToPolicy(allow({ sid: "Read" }));
    r.addToPolicy(allow({ sid: "Read", resources: ["arn:aws:s3:::c/*"] }));
    expect(r.grants.map((s) => s.sid)).toEqual(["Read", "Read2"]);
  });
});

describe("service roles", () => {
  it("are trusted by exactly one service, pinned to our account and, when given, the source ARN", () => {
    const stack = new TerraformStack(Testing.app(), "roles");
    new AwsProvider(stack, "aws", { region: "eu-west-1" });
    const naming = new Naming({ project: "dataplat", environment: "test", region: "eu-west-1" });
    new ServiceRole(stack, "sfn", {
      naming,
      name: "pipeline",
      service: "states.amazonaws.com",
      accountId: "111111111111",
      sourceArns: ["arn:aws:states:eu-west-1:111111111111:stateMachine:dataplat-test-*"],
    });
    const json: TerraformJson = JSON.parse(Testing.synth(stack));
    const [role] = resources(json, "aws_iam_role");
    expect(role.body.name).toBe("dataplat-test-pipeline");
    expect(parsePolicy(role.body.assume_role_policy).Statement).toEqual([
      {
        Sid: "TrustOneService",
        Effect: "Allow",
        Principal: { Service: "states.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: {
          StringEquals: { "aws:SourceAccount": "111111111111" },
          ArnLike: { "aws:SourceArn": ["arn:aws:states:eu-west-1:111111111111:stateMachine:dataplat-test-*"] },
        },
      },
    ]);
  });

  it("drop the source conditions only for a service whose documented trust has none", () => {
    const stack = new TerraformStack(Testing.app(), "roles");
    const naming = new Naming({ project: "dataplat", environment: "test", region: "eu-west-1" });
    const role = (service: string) =>
      new ServiceRole(stack, service, {
        naming,
        name: service.split(".")[0],
        service,
        accountId: "111111111111",
        confusedDeputyConditions: false,
      });
    expect(() => role("glue.amazonaws.com")).not.toThrow();
    expect(() => role("lambda.amazonaws.com")).toThrow(
      "roles/lambda.amazonaws.com: lambda.amazonaws.com roles must keep the aws:SourceAccount/aws:SourceArn trust conditions; only glue.amazonaws.com, lakeformation.amazonaws.com, redshift.amazonaws.com may turn them off",
    );
  });
});

describe("least privilege is enforced at synth", () => {
  it.each([
    ["*", allow({ actions: ["*"] }), 'allows "*"'],
    ["service:*", allow({ actions: ["s3:*"] }), 'allows "s3:*"'],
    ["any resource", allow({ resources: ["*"] }), "applies to every resource"],
    ["no resource", allow({ resources: [] }), "has no resources"],
    ["any principal", allow({ principals: "*" }), "allows any principal"],
  ])("rejects an Allow of %s", (_t, statement, message) => {
    expect(() => assertLeastPrivilege([statement])).toThrow(message);
  });

  it("accepts Deny statements with wildcards (guard rails) and documented wildcard resources", () => {
    expect(() =>
      assertLeastPrivilege([{ effect: "Deny", principals: "*", actions: ["s3:*"], resources: ["*"] }]),
    ).not.toThrow();
    expect(() =>
      assertLeastPrivilege([
        allow({
          actions: ["xray:PutTraceSegments"],
          resources: ["*"],
          wildcardResourceReason: "X-Ray has no resource-level permissions",
        }),
      ]),
    ).not.toThrow();
  });

  it("a grantee receives statements through addToPolicy only", () => {
    const received: PolicyStatement[] = [];
    const grantee: IGrantable = { addToPolicy: (s) => received.push(s) };
    grantee.addToPolicy(allow({}));
    expect(JSON.parse(policyDocument(received)).Statement).toEqual([
      { Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*" },
    ]);
  });
});
