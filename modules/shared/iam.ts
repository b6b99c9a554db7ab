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
import { pascalCase, type Naming } from "./naming";

/** The name of every service role's one inline policy (the emulator's decision log names statements "<this>/<sid>"). */
export const INLINE_POLICY_NAME = "least-privilege";

/**
 * Why a grant stays although an end-to-end run may not use it: the unused-access report
 * (docs/unused-access.md) lists every granted action the local run never exercised, and each one
 * needs a reason here, next to the grant. Never remove a grant only because the emulator did not use it.
 */
export interface KeptReason {
  /** What needs it, e.g. "used only on failure" or "Glue writes its encrypted logs with it; the emulator writes none". */
  readonly reason: string;
  /** The statement's actions this reason covers. @default all of them */
  readonly actions?: readonly string[];
  /** The AWS documentation that requires the permission, where there is one. */
  readonly citation?: string;
  /**
   * The action is used in some runs and not in others (a failure or timing path), so the run's
   * exercised set is not compared with the snapshot for it.
   * @default false
   */
  readonly varies?: boolean;
}

export type ConditionBlock = Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;

export interface PolicyStatement {
  readonly sid?: string;
  /** @default "Allow" */
  readonly effect?: "Allow" | "Deny";
  /** Principal for resource policies: a service, an AWS principal, or "*" (only with Deny). */
  readonly principals?:
    { readonly Service?: string | readonly string[]; readonly AWS?: string | readonly string[] } | "*";
  readonly actions: readonly string[];
  /** Omitted only in trust policies, where the role itself is the resource. */
  readonly resources?: readonly string[];
  readonly conditions?: ConditionBlock;
  /**
   * Why this identity statement needs `"Resource": "*"`: only for actions that support no
   * resource-level permissions (e.g. `xray:PutTraceSegments`). Without a reason "*" is rejected.
   */
  readonly wildcardResourceReason?: string;
  /** Why the grant is kept where a run may not use it (not rendered into the policy). @default none */
  readonly keptBecause?: KeptReason | readonly KeptReason[];
}

/** Kept reasons as a list (one, several or none). */
export function keptList(kept: KeptReason | readonly KeptReason[] | undefined): readonly KeptReason[] {
  return kept === undefined ? [] : Array.isArray(kept) ? kept : [kept as KeptReason];
}

/** The statement's kept reasons as a list. */
export function keptReasons(statement: PolicyStatement): readonly KeptReason[] {
  return keptList(statement.keptBecause);
}

/**
 * A statement id from words, e.g. `sidOf("raw", "orders/", "read")` → "RawOrdersRead". IAM sids
 * are alphanumeric; a Terraform token cannot be one, so passing one throws.
 */
export function sidOf(...words: readonly string[]): string {
  const text = words.join("-");
  if (text.includes("${"))
    throw new Error(`IAM sid from ${JSON.stringify(text)}: a sid cannot hold a Terraform reference`);
  return pascalCase(text);
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
    if (wildcard)
      throw new Error(`IAM statement ${s.sid ?? ""} allows "${wildcard}"; grant the actions it needs instead`);
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
  "lakeformation.amazonaws.com":
    "Lake Formation's data-location registration role: its documented trust policy has no source conditions",
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
  /** The component name the role was created with (its name without the environment's prefix). */
  readonly component: string;
  /** The service principal the role trusts. */
  readonly service: string;
  private readonly statements: PolicyStatement[] = [];
  private policy?: IamRolePolicy;

  constructor(scope: Construct, id: string, props: ServiceRoleProps) {
    super(scope, id);
    this.name = props.naming.name(props.name);
    this.component = props.name;
    this.service = props.service;
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

  /** The statements of the inline policy, with their kept reasons (for the unused-access report). */
  get grants(): readonly PolicyStatement[] {
    return this.statements;
  }

  /**
   * Adds a statement. Every statement needs a sid: the unused-access report and the emulator's
   * decision log name grants by it. A statement equal to one already held (same effect, actions,
   * resources and conditions) is not repeated, only its kept reasons are added; a different
   * statement with a sid already taken gets a number.
   */
  addToPolicy(statement: PolicyStatement): void {
    assertLeastPrivilege([statement]);
    if (!statement.sid || !/^[A-Za-z0-9]+$/.test(statement.sid)) {
      throw new Error(
        `${this.node.path}: IAM statement ${JSON.stringify(statement.sid ?? "")} of ${statement.actions.join(", ")} needs an alphanumeric sid`,
      );
    }
    const body = (s: PolicyStatement) => JSON.stringify([s.effect ?? "Allow", s.actions, s.resources, s.conditions]);
    const same = this.statements.findIndex((s) => body(s) === body(statement));
    if (same >= 0) {
      const held = this.statements[same];
      const reasons = [...keptReasons(held), ...keptReasons(statement)];
      this.statements[same] = { ...held, ...(reasons.length ? { keptBecause: reasons } : {}) };
      return;
    }
    let sid = statement.sid;
    for (let n = 2; this.statements.some((s) => s.sid === sid); n++) sid = `${statement.sid}${n}`;
    this.statements.push({ ...statement, sid });
    this.policy ??= new IamRolePolicy(this, "policy", {
      name: INLINE_POLICY_NAME,
      role: this.role.id,
      policy: Lazy.stringValue({ produce: () => policyDocument(this.statements) }),
    });
  }
}
