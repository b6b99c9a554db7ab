/**
 * Least privilege of the roles the catalog and analytics modules create: named actions only,
 * resources scoped to what the modules created, and each role limited to the zones it serves.
 */
import { DATASETS } from "../../datasets";
import { UNSCOPED_ACTIONS as UNSCOPED_ACTION_REASONS } from "../helpers/policies";
import { asArray, byPath, parsePolicy, refOf, resources, synthAll, TerraformJson } from "../helpers/synth";

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

const ZONES = ["raw", "processed", "consumer", "quarantine"];

/** Actions with no resource-level permissions: the only ones allowed on "*" (shared with the whole-stack walk). */
const UNSCOPED_ACTIONS = Object.keys(UNSCOPED_ACTION_REASONS);

/** The inline policy of the role at `path`. */
function statementsOf(json: TerraformJson, path: string): Statement[] {
  return parsePolicy(byPath(json, "aws_iam_role_policy", `${path}/policy`).body.policy).Statement;
}

/** Which zones' buckets and keys a policy touches. */
function zonesTouched(json: TerraformJson, statements: Statement[]): { buckets: string[]; keys: string[] } {
  const text = JSON.stringify(statements);
  return {
    buckets: ZONES.filter((z) => text.includes(`${refOf(byPath(json, "aws_s3_bucket", `lake/${z}/bucket`))}.`)),
    keys: ZONES.filter((z) => text.includes(`${refOf(byPath(json, "aws_kms_key", `lake/${z}-key`))}.`)),
  };
}

const glueResources = (statements: Statement[]) =>
  statements.flatMap((s) => asArray(s.Resource)).filter((r) => r.startsWith("arn:aws:glue:"));

describe.each(synthAll().map((e) => [e.config.name, e] as const))("%s", (_env, { config, json }) => {
  const prefix = `dataplat-${config.name}-`;
  const sourceTables = DATASETS.flatMap((d) => (d.source.kind === "dynamodb" ? [d.source.table] : []));
  const ours = (r: string) =>
    r.startsWith("${aws_") || // a resource this stack created
    new RegExp(
      `^arn:aws:glue:${config.region}:${config.accountId}:(catalog|database/dataplat_${config.name}_[a-z]+|table/dataplat_${config.name}_[a-z]+/\\*|connection/dataplat-${config.name}-[a-z-]+)$`,
    ).test(r) ||
    new RegExp(`^arn:aws:logs:${config.region}:${config.accountId}:log-group:/aws-glue/`).test(r) ||
    // the account's default event bus, where pipelines publish their success events
    r === `arn:aws:events:${config.region}:${config.accountId}:event-bus/default` ||
    // the DynamoDB tables the contracts name as sources (read through exports), and their exports
    sourceTables.some(
      (t) =>
        r === `arn:aws:dynamodb:${config.region}:${config.accountId}:table/${t}` ||
        r === `arn:aws:dynamodb:${config.region}:${config.accountId}:table/${t}/export/*`,
    ) ||
    // network interfaces Glue creates for the JDBC connection, in this stack's subnet and security group
    new RegExp(
      `^arn:aws:ec2:${config.region}:${config.accountId}:(network-interface/\\*|subnet/(\\$\\{aws_subnet\\.[^}]+\\}|subnet-[0-9a-f]+)|security-group/\\$\\{aws_security_group\\.[^}]+\\})$`,
    ).test(r);

  it("every role is trusted by exactly one service", () => {
    for (const role of resources(json, "aws_iam_role")) {
      expect(role.body.name.startsWith(prefix)).toBe(true);
      const trust = parsePolicy(role.body.assume_role_policy).Statement;
      expect(trust).toHaveLength(1);
      expect(trust[0].Action).toBe("sts:AssumeRole");
      expect(Object.keys(trust[0].Principal)).toEqual(["Service"]);
      expect(typeof trust[0].Principal.Service).toBe("string");
    }
  });

  it("every statement names its actions and scopes its resources to what this stack created", () => {
    const policies = resources(json, "aws_iam_role_policy");
    expect(policies.length).toBeGreaterThan(0);
    for (const policy of policies) {
      for (const s of parsePolicy(policy.body.policy).Statement as Statement[]) {
        expect(s.Effect).toBe("Allow");
        for (const action of asArray(s.Action)) expect(action).not.toContain("*");
        for (const resource of asArray(s.Resource)) {
          if (resource === "*") {
            // Only actions AWS offers no resource scope for (Lake Formation grants, the CloudWatch
            // namespace condition and the tracing/lookup nature of the rest scope them instead).
            for (const action of asArray(s.Action)) expect(UNSCOPED_ACTIONS).toContain(action);
            if (asArray(s.Action).includes("cloudwatch:PutMetricData"))
              expect(s.Condition).toEqual({ StringEquals: { "cloudwatch:namespace": "Glue" } });
          } else {
            expect({ policy: policy.name, resource, ours: ours(resource) }).toEqual({
              policy: policy.name,
              resource,
              ours: true,
            });
          }
        }
        if (asArray(s.Action).some((a) => a.startsWith("kms:")) && JSON.stringify(s.Resource).includes("lake_")) {
          // Zone keys are only usable through S3.
          expect(s.Condition).toEqual({ StringEquals: { "kms:ViaService": `s3.${config.region}.amazonaws.com` } });
        }
      }
    }
  });

  it("the crawler role reads the raw zone only and writes only the raw database", () => {
    const statements = statementsOf(json, "catalog/crawler-role");
    expect(zonesTouched(json, statements)).toEqual({ buckets: ["raw"], keys: ["raw"] });
    const writes = statements.filter((s) => asArray(s.Action).includes("glue:CreateTable"));
    expect(writes).toHaveLength(1);
    expect(asArray(writes[0].Resource)).toEqual([
      `arn:aws:glue:${config.region}:${config.accountId}:catalog`,
      `arn:aws:glue:${config.region}:${config.accountId}:database/dataplat_${config.name}_raw`,
      `arn:aws:glue:${config.region}:${config.accountId}:table/dataplat_${config.name}_raw/*`,
    ]);
    expect(
      statements
        .flatMap((s) => asArray(s.Action))
        .filter((a) => a.startsWith("s3:") && !["s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject"].includes(a)),
    ).toEqual([]);
    // Reads are limited to the datasets' folders.
    const prefixes = statements.flatMap((s) => asArray(s.Condition?.StringLike?.["s3:prefix"] as string[] | undefined));
    expect(prefixes.sort()).toEqual(["clickstream/*", "customers/*", "orders/*", "shipments/*"]);
  });

  it("the Spectrum role (where the warehouse exists) reads the consumer zone and its catalog entries only", () => {
    if (!config.redshift.enabled) {
      expect(resources(json, "aws_iam_role").map((r) => r.body.name)).not.toContain(`${prefix}redshift-spectrum`);
      return;
    }
    const statements = statementsOf(json, "analytics/warehouse/spectrum-role");
    expect(zonesTouched(json, statements)).toEqual({ buckets: ["consumer"], keys: ["consumer"] });
    expect(new Set(glueResources(statements).map((r) => r.split(":").slice(5).join(":")))).toEqual(
      new Set(["catalog", `database/dataplat_${config.name}_consumer`, `table/dataplat_${config.name}_consumer/*`]),
    );
    const actions = statements.flatMap((s) => asArray(s.Action));
    expect(
      actions.filter((a) => !/^(glue:(Get|BatchGet)|s3:(Get|List)|kms:Decrypt$|lakeformation:GetDataAccess$)/.test(a)),
    ).toEqual([]);
  });

  it("the Lake Formation registration role (where it exists) only reads the zones it registers", () => {
    if (!config.lakeFormation.enabled) {
      expect(resources(json, "aws_iam_role").map((r) => r.body.name)).not.toContain(`${prefix}lakeformation-access`);
      return;
    }
    const statements = statementsOf(json, "catalog/lake-formation/registration-role");
    expect(zonesTouched(json, statements)).toEqual({
      buckets: ["raw", "processed", "consumer"],
      keys: ["raw", "processed", "consumer"],
    });
    expect(new Set(statements.flatMap((s) => asArray(s.Action)))).toEqual(
      new Set(["s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject", "kms:Decrypt"]),
    );
  });
});
