/**
 * Plan summaries: counts per action and resource type from Terraform's JSON plan, and the markdown
 * posted on pull requests and drift issues. (The integration test feeds it real `terraform show -json`.)
 */
import { classify, COMMENT_MARKER, PlanJson, renderSummaries, summarizePlan } from "../../scripts/lib/plan-summary";

const change = (address: string, actions: string[], mode: "managed" | "data" = "managed") => ({
  address,
  mode,
  type: address.split(".")[0],
  change: { actions },
});

const plan: PlanJson = {
  format_version: "1.2",
  terraform_version: "1.11.4",
  resource_changes: [
    change("aws_s3_bucket.new", ["create"]),
    change("aws_s3_bucket.kept", ["no-op"]),
    change("aws_s3_bucket.gone", ["delete"]),
    change("aws_kms_key.rotated", ["update"]),
    change("aws_glue_job.job", ["delete", "create"]),
    change("aws_glue_job.other", ["create", "delete"]),
    change("aws_iam_role.forgotten", ["forget"]),
    change("data.aws_caller_identity.current", ["read"], "data"),
  ],
  resource_drift: [change("aws_kms_key.rotated", ["update"])],
};

describe("summarizePlan", () => {
  const s = summarizePlan(plan, "dev");

  it("counts each action, and the resources before and after the apply", () => {
    expect(s.totals).toEqual({ create: 1, update: 1, replace: 2, delete: 1, before: 6, after: 5 });
    expect(s.byType).toEqual({
      aws_glue_job: { create: 0, update: 0, replace: 2, delete: 0, before: 2, after: 2 },
      aws_iam_role: { create: 0, update: 0, replace: 0, delete: 0, before: 1, after: 0 },
      aws_kms_key: { create: 0, update: 1, replace: 0, delete: 0, before: 1, after: 1 },
      aws_s3_bucket: { create: 1, update: 0, replace: 0, delete: 1, before: 2, after: 2 },
    });
  });

  it("lists what is destroyed or replaced, and what drifted, by address", () => {
    expect(s.destructive).toEqual([
      "delete: aws_s3_bucket.gone",
      "replace: aws_glue_job.job",
      "replace: aws_glue_job.other",
    ]);
    expect(s.drifted).toEqual(["aws_kms_key.rotated"]);
  });

  it("rejects input that is not a JSON plan, and actions it does not know", () => {
    expect(() => summarizePlan({ format_version: undefined } as unknown as PlanJson, "prod")).toThrow(
      /prod: not a Terraform JSON plan/,
    );
    expect(() => classify(["update", "create"])).toThrow("unknown Terraform plan actions [update,create]");
  });
});

describe("renderSummaries", () => {
  const dev = summarizePlan(plan, "dev");
  const prod = summarizePlan(
    { format_version: "1.2", resource_changes: [change("aws_s3_bucket.kept", ["no-op"])] },
    "prod",
  );
  const md = renderSummaries([dev, prod], { expected: ["dev", "staging", "prod"], subtitle: "Plans of commit abc" });

  it("has one row per expected environment, in order, with counts and a failed row for a missing plan", () => {
    const rows = md.split("\n").filter((l) => /^\| (dev|staging|prod) \|/.test(l));
    expect(rows).toEqual([
      "| dev | 6 → 5 (−1) | 1 | 1 | 2 | 1 | ⚠️ destroys or replaces resources |",
      "| staging | — | | | | | ❌ no plan: the plan job failed (see its log) |",
      "| prod | 1 → 1 (±0) | 0 | 0 | 0 | 0 | no changes |",
    ]);
  });

  it("shows the change by resource type per environment, and the addresses to review", () => {
    expect(md.startsWith(`${COMMENT_MARKER}\n### Terraform plan\n\nPlans of commit abc\n`)).toBe(true);
    expect(md).toContain("| resource type | dev | prod |");
    expect(md).toContain("| `aws_s3_bucket` | +1 −1 (2 → 2) | · |");
    expect(md).toContain("| `aws_glue_job` | ±2 (2 → 2) | · |");
    expect(md).not.toContain("`aws_iam_role` |"); // forget changes no resource in AWS
    expect(md).toContain("<details><summary>dev: addresses to review</summary>");
    expect(md).toContain("- `delete: aws_s3_bucket.gone`");
    expect(md).toContain("- `aws_kms_key.rotated`");
    expect(md).not.toContain("prod: addresses to review");
  });
});
