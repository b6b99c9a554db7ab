/**
 * Policy as code: checkov (pinned in requirements/policy.in, installed into .venv-policy by
 * `npm run setup:py`) over each synthesized stack, with the platform's accepted exceptions applied.
 *
 * checkov 3.3's Terraform JSON runner ignores inline suppressions, so they are applied here, from
 * the `checkov:skip=<check>:<reason>` comments `skipPolicyCheck` writes into a resource's `"//"`
 * block (modules/shared/policy-checks.ts). The rules are strict in both directions:
 *  - a finding is accepted only when that resource carries a skip for that check;
 *  - a skip whose check does not fail on its resource is stale, and reported like a finding.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { policySkipsOf, SKIPPABLE_POLICY_CHECKS } from "../../modules/shared/policy-checks";
import { stackResources, type TerraformJson } from "./stacks";
import { ROOT } from "./terraform";

export const CHECKOV = join(ROOT, ".venv-policy", "bin", "checkov");

/** One check that failed on one resource. */
export interface PolicyFinding {
  readonly check: string;
  /** checkov's name for the check. */
  readonly title: string;
  /** "<type>.<name>" in the stack. */
  readonly address: string;
  /** Construct path below the stack, e.g. "lake/raw/bucket". */
  readonly path: string;
}

export interface AcceptedFinding extends PolicyFinding {
  readonly reason: string;
}

/** A skip on a resource where its check did not fail: the exception is no longer needed (or is misplaced). */
export interface StaleSkip {
  readonly check: string;
  readonly address: string;
  readonly path: string;
  readonly reason: string;
}

export interface PolicyScanResult {
  readonly checkovVersion: string;
  /** Checks that passed, over every resource. */
  readonly passed: number;
  /** Failed checks with no skip on their resource: each one fails the scan. */
  readonly findings: readonly PolicyFinding[];
  /** Failed checks the resource's skip accepts, with its reason. */
  readonly accepted: readonly AcceptedFinding[];
  /** Skips that accept nothing: each one fails the scan. */
  readonly staleSkips: readonly StaleSkip[];
}

/** The checkov executable, or an error that says how to install it. */
export function requireCheckov(): string {
  if (!existsSync(CHECKOV)) {
    throw new Error(
      `checkov is not installed (${CHECKOV} is missing). Run \`npm run setup:py\`: it creates .venv-policy from ` +
        "requirements/policy.txt (checkov pinned, hashed; needs Python ≥ 3.11 and PyPI).",
    );
  }
  return CHECKOV;
}

type CheckovRecord = { check_id: string; check_name: string; resource: string; file_line_range: [number, number] };

/** Runs checkov over one stack directory (its `cdk.tf.json`) and returns its raw report. */
export function runCheckov(stackDir: string): { version: string; passed: number; failed: CheckovRecord[] } {
  const checkov = requireCheckov();
  const result = spawnSync(
    checkov,
    // --skip-download: no calls to the vendor's platform (the checks ship with the package).
    ["--directory", stackDir, "--framework", "terraform_json", "--output", "json", "--compact", "--skip-download"],
    { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, env: { ...process.env, LOG_LEVEL: "WARNING" } },
  );
  if (result.error) throw new Error(`checkov could not run: ${result.error.message}`);
  // 0: every check passed; 1: some failed. Anything else is checkov itself failing.
  if (result.status !== 0 && result.status !== 1) {
    throw new Error(`checkov exited with ${result.status} on ${stackDir}:\n${result.stderr}`);
  }
  let report: {
    summary?: { passed: number; parsing_errors: number; checkov_version: string };
    results?: { failed_checks: CheckovRecord[] };
  };
  try {
    report = JSON.parse(result.stdout);
  } catch {
    throw new Error(
      `checkov printed no JSON report for ${stackDir}:\n${result.stdout.slice(0, 2000)}\n${result.stderr}`,
    );
  }
  if (Array.isArray(report))
    throw new Error(`checkov ran more than one framework on ${stackDir}; expected terraform_json only`);
  if (!report.results || !report.summary) throw new Error(`checkov found no Terraform JSON to scan in ${stackDir}`);
  if (report.summary.parsing_errors > 0)
    throw new Error(`checkov could not parse ${report.summary.parsing_errors} file(s) in ${stackDir}`);
  return {
    version: report.summary.checkov_version,
    passed: report.summary.passed,
    failed: report.results.failed_checks,
  };
}

/** Every skip recorded in a stack, with the resource it sits on. */
export function recordedSkips(json: TerraformJson): StaleSkip[] {
  return stackResources(json).flatMap((r) =>
    policySkipsOf(r.body).map((s) => ({
      check: s.check,
      reason: s.reason,
      address: r.address,
      path: r.path.join("/"),
    })),
  );
}

/**
 * Applies a stack's skips to checkov's failures. checkov names a resource "<type>.<name>" for
 * graph checks but "resource.<name>" for Python checks in Terraform JSON; names are unique in a
 * stack (cdktf adds a hash of the construct path), so the name finds the resource.
 */
export function judge(
  json: TerraformJson,
  report: { version: string; passed: number; failed: CheckovRecord[] },
): PolicyScanResult {
  const resources = stackResources(json);
  const byName = new Map(resources.map((r) => [r.name, r]));
  const findings: PolicyFinding[] = [];
  const accepted: AcceptedFinding[] = [];
  const used = new Set<string>();
  for (const record of report.failed) {
    const name = record.resource.slice(record.resource.indexOf(".") + 1);
    const resource = byName.get(name);
    if (!resource)
      throw new Error(
        `checkov reported ${record.check_id} on ${record.resource}, which is not a resource of the stack`,
      );
    const finding = {
      check: record.check_id,
      title: record.check_name,
      address: resource.address,
      path: resource.path.join("/"),
    };
    const skip = policySkipsOf(resource.body).find((s) => s.check === record.check_id);
    if (skip) {
      accepted.push({ ...finding, reason: skip.reason });
      used.add(`${resource.address} ${skip.check}`);
    } else {
      findings.push(finding);
    }
  }
  const staleSkips = recordedSkips(json).filter((s) => !used.has(`${s.address} ${s.check}`));
  const order = <T extends { address: string; check: string }>(list: T[]) =>
    list.sort((a, b) => a.address.localeCompare(b.address) || a.check.localeCompare(b.check));
  return {
    checkovVersion: report.version,
    passed: report.passed,
    findings: order(findings),
    accepted: order(accepted),
    staleSkips: order(staleSkips),
  };
}

/** checkov over one synthesized stack directory, judged against that stack's skips. */
export function scanStack(stackDir: string, json: TerraformJson): PolicyScanResult {
  return judge(json, runCheckov(stackDir));
}

/** One accepted exception as docs/security.md lists it: a check, a reason, and every resource it covers in any environment. */
export interface SkipRow {
  readonly check: string;
  /** What the check asks for (SKIPPABLE_POLICY_CHECKS). */
  readonly asks: string;
  readonly reason: string;
  /** Construct paths, each with the environments whose stack carries this skip there. */
  readonly resources: readonly { readonly path: string; readonly environments: readonly string[] }[];
}

/** Every skip of every stack, grouped by check and reason. */
export function skipTable(stacks: readonly { name: string; json: TerraformJson }[]): SkipRow[] {
  const rows = new Map<string, { check: string; reason: string; resources: Map<string, string[]> }>();
  for (const { name, json } of stacks) {
    for (const skip of recordedSkips(json)) {
      const key = `${skip.check}\u0000${skip.reason}`;
      const row = rows.get(key) ?? { check: skip.check, reason: skip.reason, resources: new Map<string, string[]>() };
      row.resources.set(skip.path, [...(row.resources.get(skip.path) ?? []), name]);
      rows.set(key, row);
    }
  }
  return [...rows.values()]
    .map((r) => ({
      check: r.check,
      asks: SKIPPABLE_POLICY_CHECKS[r.check as keyof typeof SKIPPABLE_POLICY_CHECKS] ?? "(not a listed check)",
      reason: r.reason,
      resources: [...r.resources.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([path, environments]) => ({ path, environments })),
    }))
    .sort((a, b) => a.check.localeCompare(b.check, "en", { numeric: true }) || a.reason.localeCompare(b.reason));
}

/** The skip table of docs/security.md. A resource present in only some environments names them. */
export function renderSkipTable(rows: readonly SkipRow[], environments: readonly string[]): string {
  const cell = (text: string) => text.replace(/\|/g, "\\|");
  const lines = ["| check | asks for | resources | why it is skipped |", "| --- | --- | --- | --- |"];
  for (const row of rows) {
    const resources = row.resources
      .map(
        (r) =>
          `\`${r.path}\`${r.environments.length === environments.length ? "" : ` (${environments.filter((e) => r.environments.includes(e)).join(", ")})`}`,
      )
      .join("<br>");
    lines.push(`| \`${row.check}\` | ${cell(row.asks)} | ${resources} | ${cell(row.reason)} |`);
  }
  return lines.join("\n");
}
