/**
 * Typed IAM policy documents and the service role every module uses.
 *
 * Modules never write policy JSON by hand: they build `PolicyStatement`s (usually through grant
 * methods such as `lake.grantRead`) and add them to a `ServiceRole`. That keeps least privilege
 * checkable in one place: `assertLeastPrivilege` rejects wildcard actions at synth.
 */
import { Lazy } from "cdktf";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Construct } from "constructs";
import type { Naming } from "./naming";

export type ConditionBlock = Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;

export interface PolicyStatement {
  readonly sid?: string;
  /** @default "Allow" */
  readonly effect?: "Allow" | "Deny";
  /** Principal for resource policies: a service, an AWS principal, or "*" (only with Deny). */
  readonly principals?: { readonly Service?: string | readonly string[]; readonly AWS?: string | readonly string[] } | "*";
  readonly actions: readonly string[];
  /** Omitted only in trust policies, where the role itself is the resource. */
  readonly resources?: readonly string[];
  readonly conditions?: ConditionBlock;
  /**
   * Why this identity statement needs `"Resource": "*"`: only for actions that support no
   * resource-level permissions (e.g. `xray:PutTraceSegments`). Without a reason "*" is rejected.
   */
  readonly wildcardResourceReason?: string;
}

/** Renders statements as an IAM policy document (a JSON string that may hold Terraform references). */
export function policyDocument(statements: readonly PolicyStatement[]): string {
  assertLeastPrivilege(statements);
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: statements.map((s) => ({
      ...(s.sid ? { Sid: s.sid } : {}),
      Effect: s.effect ?? "Allow",
      ...(s.principals ? { Principal: s.principals } : {}),
      Action: unwrap(s.actions),
      ...(s.resources ? { Resource: unwrap(s.resources) } : {}),
      ...(s.conditions ? { Condition: s.conditions } : {}),
    })),
  });
}

function unwrap(values: readonly string[]): string | readonly string[] {
  return values.length === 1 ? values[0] : values;
}

/** An Allow statement may not use "*" or "service:*" actions, nor an empty action list. */
export function assertLeastPrivilege(statements: readonly PolicyStatement[]): void {
  for (const s of statements) {
    if (s.actions.length === 0) throw new Error(`IAM statement ${s.sid ?? ""} has no actions`);
    if ((s.effect ?? "Allow") !== "Allow") continue;
    const wildcard = s.actions.find((a) => a === "*" || /^[a-z0-9-]+:\*$/i.test(a));
    if (wildcard) throw new Error(`IAM statement ${s.sid ?? ""} allows "${wildcard}"; grant the actions it needs instead`);
    if (s.principals === "*") throw new Error(`IAM statement ${s.sid ?? ""} allows any principal`);
    const isTrust = s.actions.every((a) => a.startsWith("sts:"));
    if (!isTrust && (!s.resources || s.resources.length === 0)) {
      throw new Error(`IAM statement ${s.sid ?? ""} has no resources; scope it to what the module created`);
    }
    const anyResource = s.resources?.find((r) => r === "*");
    if (anyResource && !s.principals && !s.wildcardResourceReason) {
      throw new Error(`IAM statement ${s.sid ?? ""} applies to every resource; scope it to what the module created`);
    }
  }
}

/**
 * Services whose documented execution-role trust policy carries no `aws:SourceAccount` /
 * `aws:SourceArn` conditions: a condition the service does not send would deny every assumption.
 * Only these may turn `confusedDeputyConditions` off; every other role is pinned to our account
 * (and, where given, to the source ARNs). Passing any of these roles still needs iam:PassRole in
 * this account, which only the deploying principal has.
 */
export const SERVICES_WITHOUT_SOURCE_CONDITIONS: Readonly<Record<string, string>> = {
  "glue.amazonaws.com": "Glue job and crawler roles: Glue's documented trust policy has no source conditions",
  "lakeformation.amazonaws.com": "Lake Formation's data-location registration role: its documented trust policy has no source conditions",
  "redshift.amazonaws.com": "Redshift Spectrum/COPY roles: Redshift's documented trust policy has no source conditions",
};

/** Anything that can receive permissions (a role, or a test double). */
export interface IGrantable {
  addToPolicy(statement: PolicyStatement): void;
}

export interface ServiceRoleProps {
  readonly naming: Naming;
  /** Component name; the role is called "<prefix>-<name>". */
  readonly name: string;
  /** Service principal that may assume the role, e.g. "glue.amazonaws.com". */
  readonly service: string;
  /** Account the caller must act for (`aws:SourceAccount`). */
  readonly accountId: string;
  /**
   * ARNs (or ARN patterns) the caller must act for (`aws:SourceArn`).
   * @default no SourceArn condition: only the account is pinned
   */
  readonly sourceArns?: readonly string[];
  /**
   * Add the confused-deputy conditions. Turn off only for services that do not send them
   * when assuming an execution role, and say why at the call site.
   * @default true
   */
  readonly confusedDeputyConditions?: boolean;
  readonly description?: string;
}

/**
 * An IAM role trusted by exactly one AWS service, with one inline least-privilege policy built
 * from the statements grant methods add. The policy resource is created on the first statement,
 * so a role never carries an empty (invalid) policy.
 */
export class ServiceRole extends Construct implements IGrantable {
  readonly role: IamRole;
  readonly arn: string;
  readonly name: string;
  private readonly statements: PolicyStatement[] = [];
  private policy?: IamRolePolicy;

  constructor(scope: Construct, id: string, props: ServiceRoleProps) {
    super(scope, id);
    this.name = props.naming.name(props.name);
    const guard = props.confusedDeputyConditions ?? true;
    if (!guard && !(props.service in SERVICES_WITHOUT_SOURCE_CONDITIONS)) {
      throw new Error(
        `${this.node.path}: ${props.service} roles must keep the aws:SourceAccount/aws:SourceArn trust conditions; only ${Object.keys(SERVICES_WITHOUT_SOURCE_CONDITIONS).join(", ")} may turn them off`,
      );
    }
    const conditions: Record<string, Record<string, string | readonly string[]>> = {};
    if (guard) {
      conditions.StringEquals = { "aws:SourceAccount": props.accountId };
      if (props.sourceArns?.length) conditions.ArnLike = { "aws:SourceArn": props.sourceArns };
    }
    this.role = new IamRole(this, "role", {
      name: this.name,
      description: props.description,
      assumeRolePolicy: policyDocument([
        {
          sid: "TrustOneService",
          principals: { Service: props.service },
          actions: ["sts:AssumeRole"],
          ...(guard ? { conditions } : {}),
        },
      ]),
    });
    this.arn = this.role.arn;
  }

  /** The inline policy, once a statement exists: depend on it where a service checks the role's permissions at create time. */
  get inlinePolicy(): IamRolePolicy | undefined {
    return this.policy;
  }

  addToPolicy(statement: PolicyStatement): void {
    assertLeastPrivilege([statement]);
    this.statements.push(statement);
    this.policy ??= new IamRolePolicy(this, "policy", {
      name: "least-privilege",
      role: this.role.id,
      policy: Lazy.stringValue({ produce: () => policyDocument(this.statements) }),
    });
  }
}
