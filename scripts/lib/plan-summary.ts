/**
 * Plan summaries: from `terraform show -json <planfile>` to counts per action and resource type,
 * and from those counts (one per environment) to the markdown posted on a pull request or a drift
 * issue. Summaries hold counts and addresses only, never attribute values, so they are safe to
 * upload and post (plan JSON itself may contain sensitive values).
 */

/** The parts of Terraform's JSON plan format (format_version 1.x) used here. */
export interface PlanJson {
  readonly format_version: string;
  readonly terraform_version?: string;
  readonly resource_changes?: readonly ResourceChange[];
  /** Objects changed outside Terraform since the last apply (what refresh found). */
  readonly resource_drift?: readonly ResourceChange[];
}

interface ResourceChange {
  readonly address: string;
  readonly mode: "managed" | "data";
  readonly type: string;
  readonly change: { readonly actions: readonly string[] };
}

export const ACTIONS = ["create", "update", "replace", "delete"] as const;
export type Action = (typeof ACTIONS)[number];

export interface TypeSummary {
  readonly create: number;
  readonly update: number;
  readonly replace: number;
  readonly delete: number;
  /** Resources of this type in state before the apply, and after it. */
  readonly before: number;
  readonly after: number;
}

export interface PlanSummary {
  readonly environment: string;
  readonly terraformVersion?: string;
  readonly totals: TypeSummary;
  readonly byType: Record<string, TypeSummary>;
  /** Addresses of resources to be deleted or replaced: what a reviewer must look at first. */
  readonly destructive: string[];
  /** Addresses Terraform found changed outside Terraform. */
  readonly drifted: string[];
}

/** One action name for Terraform's action lists (["delete","create"] is a replacement). */
export function classify(actions: readonly string[]): Action | "no-op" | "read" | "forget" {
  const key = actions.join(",");
  switch (key) {
    case "create":
      return "create";
    case "update":
      return "update";
    case "delete":
      return "delete";
    case "delete,create":
    case "create,delete":
      return "replace";
    case "no-op":
      return "no-op";
    case "read":
      return "read";
    case "forget":
      return "forget";
    default:
      throw new Error(`unknown Terraform plan actions [${key}]`);
  }
}

const zero = (): { -readonly [K in keyof TypeSummary]: number } => ({
  create: 0,
  update: 0,
  replace: 0,
  delete: 0,
  before: 0,
  after: 0,
});

export function summarizePlan(plan: PlanJson, environment: string): PlanSummary {
  if (typeof plan?.format_version !== "string" || !plan.format_version.startsWith("1.")) {
    throw new Error(
      `${environment}: not a Terraform JSON plan (format_version ${JSON.stringify(plan?.format_version)}); use \`terraform show -json <planfile>\``,
    );
  }
  const byType: Record<string, ReturnType<typeof zero>> = {};
  const totals = zero();
  const destructive: string[] = [];
  for (const rc of plan.resource_changes ?? []) {
    if (rc.mode !== "managed") continue;
    const action = classify(rc.change.actions);
    const t = (byType[rc.type] ??= zero());
    const existedBefore = action !== "create";
    const existsAfter = action !== "delete" && action !== "forget";
    for (const s of [t, totals]) {
      if (existedBefore) s.before++;
      if (existsAfter) s.after++;
      if (action === "create" || action === "update" || action === "replace" || action === "delete") s[action]++;
    }
    if (action === "delete" || action === "replace") destructive.push(`${action}: ${rc.address}`);
  }
  const drifted = (plan.resource_drift ?? [])
    .filter((d) => d.mode === "managed")
    .map((d) => d.address)
    .sort();
  return {
    environment,
    terraformVersion: plan.terraform_version,
    totals,
    byType: Object.fromEntries(Object.entries(byType).sort(([a], [b]) => a.localeCompare(b))),
    destructive: destructive.sort(),
    drifted,
  };
}

export function hasChanges(s: PlanSummary): boolean {
  return ACTIONS.some((a) => s.totals[a] > 0);
}

/** Hidden marker the workflows use to find and update their own comment. */
export const COMMENT_MARKER = "<!-- dataplat-plan-summary -->";

function signed(n: number): string {
  return n > 0 ? `+${n}` : n < 0 ? `−${-n}` : "±0";
}

function countCell(before: number, after: number): string {
  return `${before} → ${after} (${signed(after - before)})`;
}

const LIST_LIMIT = 25;

function listAddresses(title: string, addresses: readonly string[]): string[] {
  if (addresses.length === 0) return [];
  const shown = addresses.slice(0, LIST_LIMIT).map((a) => `- \`${a}\``);
  if (addresses.length > LIST_LIMIT) shown.push(`- … and ${addresses.length - LIST_LIMIT} more`);
  return [`**${title}**`, "", ...shown, ""];
}

export interface RenderOptions {
  /** Heading of the comment. */
  readonly title?: string;
  /** Environments that were expected: those without a summary are reported as failed. */
  readonly expected?: readonly string[];
  /** A line under the heading, e.g. the commit. */
  readonly subtitle?: string;
}

/**
 * Markdown for a set of environment summaries: one row per environment (resource count before →
 * after and actions), a resource-type × environment table of count changes, and per environment
 * the detail by type plus any destroyed, replaced or drifted addresses.
 */
export function renderSummaries(summaries: readonly PlanSummary[], options: RenderOptions = {}): string {
  const order = [
    ...(options.expected ?? []),
    ...summaries.map((s) => s.environment).filter((e) => !options.expected?.includes(e)),
  ];
  const byEnv = new Map(summaries.map((s) => [s.environment, s]));
  const lines: string[] = [COMMENT_MARKER, `### ${options.title ?? "Terraform plan"}`, ""];
  if (options.subtitle) lines.push(options.subtitle, "");

  lines.push(
    "| environment | resources before → after | create | update | replace | delete | |",
    "| --- | --- | ---: | ---: | ---: | ---: | --- |",
  );
  for (const env of order) {
    const s = byEnv.get(env);
    if (!s) {
      lines.push(`| ${env} | — | | | | | ❌ no plan: the plan job failed (see its log) |`);
      continue;
    }
    const t = s.totals;
    const note = !hasChanges(s) ? "no changes" : t.delete + t.replace > 0 ? "⚠️ destroys or replaces resources" : "";
    lines.push(
      `| ${env} | ${countCell(t.before, t.after)} | ${t.create} | ${t.update} | ${t.replace} | ${t.delete} | ${note} |`,
    );
  }
  lines.push("");

  const present = order.flatMap((e) => byEnv.get(e) ?? []);
  const changedTypes = [
    ...new Set(
      present.flatMap((s) =>
        Object.entries(s.byType)
          .filter(([, t]) => ACTIONS.some((a) => t[a] > 0))
          .map(([type]) => type),
      ),
    ),
  ].sort();
  if (changedTypes.length > 0) {
    lines.push("**Change in resource count by type** (`+create ~update ±replace −delete`)", "");
    lines.push(
      `| resource type | ${present.map((s) => s.environment).join(" | ")} |`,
      `| --- | ${present.map(() => "---").join(" | ")} |`,
    );
    for (const type of changedTypes) {
      const cells = present.map((s) => {
        const t = s.byType[type];
        if (!t || !ACTIONS.some((a) => t[a] > 0)) return "·";
        const parts = [
          t.create && `+${t.create}`,
          t.update && `~${t.update}`,
          t.replace && `±${t.replace}`,
          t.delete && `−${t.delete}`,
        ].filter(Boolean);
        return `${parts.join(" ")} (${t.before} → ${t.after})`;
      });
      lines.push(`| \`${type}\` | ${cells.join(" | ")} |`);
    }
    lines.push("");
  }

  for (const s of present) {
    const detail = [
      ...listAddresses("Destroyed or replaced", s.destructive),
      ...listAddresses("Changed outside Terraform (drift)", s.drifted),
    ];
    if (detail.length === 0) continue;
    lines.push(`<details><summary>${s.environment}: addresses to review</summary>`, "", ...detail, "</details>", "");
  }
  return `${lines.join("\n").trimEnd()}\n`;
}
