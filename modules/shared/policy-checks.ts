/**
 * Deliberate exceptions to the policy scan (checkov), recorded on the resource they concern.
 *
 * `skipPolicyCheck(resource, "CKV_AWS_144", "why")` writes checkov's own suppression comment
 * (`checkov:skip=CKV_AWS_144:why`) into the resource's Terraform JSON comment block (`"//"`, which
 * Terraform ignores). checkov 3.3's Terraform JSON runner does not read suppressions itself, so the
 * project's scan (`scripts/lib/policy-scan.ts`) applies them: a finding is accepted only when that
 * very resource carries a skip for that very check, and a skip whose check no longer fails is an
 * error too. The skip table in docs/security.md is generated from the same comments.
 */
import type { TerraformResource } from "cdktf";

/**
 * The checks the platform skips somewhere, with what each one asks for. A skip must name one of
 * these: adding an exception means adding it here, where a reviewer sees the list.
 */
export const SKIPPABLE_POLICY_CHECKS = {
  CKV_AWS_24: "no security group allows ingress from 0.0.0.0/0 to port 22",
  CKV_AWS_25: "no security group allows ingress from 0.0.0.0/0 to port 3389",
  CKV_AWS_99: "Glue security configuration encrypts S3, CloudWatch and job bookmarks",
  CKV_AWS_116: "Lambda function has a dead-letter queue",
  CKV_AWS_117: "Lambda function runs inside a VPC",
  CKV_AWS_144: "S3 bucket has cross-region replication",
  CKV_AWS_145: "S3 bucket is encrypted with KMS by default",
  CKV_AWS_260: "no security group allows ingress from 0.0.0.0/0 to port 80",
  CKV_AWS_272: "Lambda function validates code signing",
  CKV_AWS_285: "state machine logs execution history (with execution data)",
  CKV_AWS_338: "CloudWatch log group keeps logs for at least a year",
  CKV2_AWS_5: "security group is attached to a resource",
  CKV2_AWS_57: "Secrets Manager secret rotates automatically",
  CKV2_AWS_62: "S3 bucket has event notifications",
} as const;

export type SkippablePolicyCheck = keyof typeof SKIPPABLE_POLICY_CHECKS;

/** One accepted exception as it is written to (and read back from) the synthesized JSON. */
export interface PolicySkip {
  readonly check: string;
  readonly reason: string;
}

/** Key inside a resource's `"//"` comment block that holds its skips. */
export const POLICY_SKIP_KEY = "checkov";

/** checkov's suppression syntax (checkov/common/comment/enum.py), one check per comment. */
const SKIP_COMMENT = /^checkov:skip=([A-Z0-9_]+):(.+)$/;

const skipsByResource = new WeakMap<TerraformResource, PolicySkip[]>();

/**
 * Accepts one policy-scan finding on `resource`, for the reason given. The reason is what the
 * README shows a reviewer: say why the check does not apply or what covers its risk instead.
 */
export function skipPolicyCheck(resource: TerraformResource, check: SkippablePolicyCheck, reason: string): void {
  const text = reason.trim();
  if (!(check in SKIPPABLE_POLICY_CHECKS))
    throw new Error(`${resource.node.path}: ${check} is not a known skippable policy check`);
  if (text.length < 20 || /[\r\n]/.test(text)) {
    throw new Error(
      `${resource.node.path}: skipping ${check} needs a one-line reason of at least 20 characters (got "${reason}")`,
    );
  }
  const skips = skipsByResource.get(resource) ?? [];
  const existing = skips.find((s) => s.check === check);
  if (existing?.reason === text) return; // the same decision again (e.g. an aspect visiting twice)
  if (existing)
    throw new Error(`${resource.node.path}: ${check} is already skipped for another reason ("${existing.reason}")`);
  skips.push({ check, reason: text });
  skipsByResource.set(resource, skips);
  resource.addOverride(
    `//.${POLICY_SKIP_KEY}`,
    skips.map((s) => `checkov:skip=${s.check}:${s.reason}`),
  );
}

/** The skips recorded in one synthesized resource body (`{}` of the Terraform JSON). */
export function policySkipsOf(body: Record<string, unknown>): PolicySkip[] {
  const notes = body?.["//"];
  const comments: unknown =
    notes && typeof notes === "object" && POLICY_SKIP_KEY in notes ? notes[POLICY_SKIP_KEY] : undefined;
  if (comments === undefined) return [];
  if (!Array.isArray(comments)) throw new Error(`"//".${POLICY_SKIP_KEY} must be a list of checkov:skip comments`);
  return comments.map((comment) => {
    const match = typeof comment === "string" ? SKIP_COMMENT.exec(comment) : null;
    if (!match) throw new Error(`not a checkov skip comment: ${JSON.stringify(comment)}`);
    return { check: match[1], reason: match[2] };
  });
}
