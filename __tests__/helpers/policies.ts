/** Every IAM policy document in a synthesized stack, found by content rather than by attribute name. */
import type { TerraformJson } from "./synth";

/* eslint-disable @typescript-eslint/no-explicit-any -- policy documents parsed from synthesized JSON */
export interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: "*" | { Service?: string | string[]; AWS?: string | string[]; Federated?: string | string[] };
  NotPrincipal?: unknown;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: string | string[];
  NotResource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

export interface PolicyDocument {
  /** "<type>.<name>" of the resource (or "data.<type>.<name>"). */
  readonly address: string;
  readonly type: string;
  /** Attribute path inside the resource, e.g. "assume_role_policy". */
  readonly attribute: string;
  readonly statements: Statement[];
}

/** Parses a string that is a JSON policy document, or returns undefined. */
function asPolicy(text: string): { Statement: Statement | Statement[] } | undefined {
  if (!text.includes('"Statement"')) return undefined;
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" && "Statement" in value ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every policy document of every resource and data source: any string attribute, at any depth,
 * that parses as a JSON document with a `Statement` (inline role policies, managed policies, trust
 * policies, key, bucket, queue and topic policies, and whatever a new module adds).
 */
export function policyDocuments(json: TerraformJson): PolicyDocument[] {
  const out: PolicyDocument[] = [];
  const blocks: [string, Record<string, Record<string, any>>][] = [
    ["", json.resource ?? {}],
    ["data.", json.data ?? {}],
  ];
  for (const [prefix, byType] of blocks) {
    for (const [type, byName] of Object.entries(byType)) {
      for (const [name, body] of Object.entries(byName)) {
        const visit = (value: unknown, path: string[]): void => {
          if (typeof value === "string") {
            const doc = asPolicy(value);
            if (doc) {
              const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
              out.push({ address: `${prefix}${type}.${name}`, type, attribute: path.join("."), statements });
            }
          } else if (Array.isArray(value)) value.forEach((v) => visit(v, path));
          else if (value && typeof value === "object")
            for (const [k, v] of Object.entries(value)) if (k !== "//") visit(v, [...path, k]);
        };
        visit(body, []);
      }
    }
  }
  return out;
}

export const list = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/**
 * Actions AWS offers no resource-level permission for, each with why the role needs it: the only
 * actions an identity policy may allow on `"*"`.
 */
export const UNSCOPED_ACTIONS: Readonly<Record<string, string>> = {
  "lakeformation:GetDataAccess":
    "Lake Formation vends credentials for registered locations; grants, not IAM, scope the data",
  "xray:PutTraceSegments": "tracing (Lambda, Step Functions)",
  "xray:PutTelemetryRecords": "tracing (Lambda, Step Functions)",
  "xray:GetSamplingRules": "tracing (Step Functions)",
  "xray:GetSamplingTargets": "tracing (Step Functions)",
  // Step Functions' log delivery: AWS documents these for "*" only (vended logs)
  "logs:CreateLogDelivery": "Step Functions execution logs (vended log delivery)",
  "logs:GetLogDelivery": "Step Functions execution logs (vended log delivery)",
  "logs:UpdateLogDelivery": "Step Functions execution logs (vended log delivery)",
  "logs:DeleteLogDelivery": "Step Functions execution logs (vended log delivery)",
  "logs:ListLogDeliveries": "Step Functions execution logs (vended log delivery)",
  "logs:PutResourcePolicy": "Step Functions execution logs (vended log delivery)",
  "logs:DescribeResourcePolicies": "Step Functions execution logs (vended log delivery)",
  "logs:DescribeLogGroups": "Step Functions execution logs (vended log delivery)",
  "cloudwatch:PutMetricData": "Glue job metrics; scoped by the cloudwatch:namespace condition instead",
  "ec2:DescribeNetworkInterfaces": "Glue JDBC connections look up their network",
  "ec2:DescribeSubnets": "Glue JDBC connections look up their network",
  "ec2:DescribeSecurityGroups": "Glue JDBC connections look up their network",
  "ec2:DescribeVpcs": "Glue JDBC connections look up their network",
  "ec2:DescribeVpcEndpoints": "Glue JDBC connections look up their network",
  "ec2:DescribeRouteTables": "Glue JDBC connections look up their network",
  "ec2:DescribeVpcAttribute": "Glue JDBC connections look up their network",
};
