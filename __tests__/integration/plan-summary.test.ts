/**
 * Plan summaries from real `terraform show -json` output:
 *  - every action kind, from a configuration of built-in `terraform_data` resources applied and then
 *    changed (runs offline, no provider needed), including `plan -detailed-exitcode`, the drift check;
 *  - the dev stack as synthesized, planned against no state (credentials checks skipped: nothing
 *    is called), so the summary's counts must equal the stack's resource counts by type.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PlanJson, renderSummaries, summarizePlan } from "../../scripts/lib/plan-summary";
import { countByType, readStacks } from "../../scripts/lib/stacks";
import { requireTerraform, ROOT, synth, terraform } from "../../scripts/lib/terraform";
import { defined } from "../../modules/shared/defined";

const work = mkdtempSync(join(tmpdir(), "plan-summary-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const ok = (result: { ok: boolean; stdout: string; stderr: string }) => {
  if (!result.ok) throw new Error(result.stderr || result.stdout);
  return result.stdout;
};

beforeAll(() => requireTerraform());

it("summarizes create, update, replace, delete and no-op from a real plan; -detailed-exitcode tells drift from none", () => {
  const dir = join(work, "data");
  mkdirSync(dir);
  const config = (resources: Record<string, unknown>) =>
    writeFileSync(join(dir, "main.tf.json"), JSON.stringify({ resource: { terraform_data: resources } }));
  config({ keep: { input: "a" }, change: { input: "v1" }, replaced: { triggers_replace: "t1" }, gone: { input: "x" } });
  ok(terraform(["init", "-input=false"], dir));
  ok(terraform(["apply", "-auto-approve", "-input=false"], dir));
  expect(terraform(["plan", "-input=false", "-detailed-exitcode"], dir).status).toBe(0); // in sync: no alert

  config({
    keep: { input: "a" },
    change: { input: "v2" },
    replaced: { triggers_replace: "t2" },
    added: { input: "n" },
  });
  expect(terraform(["plan", "-input=false", "-detailed-exitcode", "-out=p.tfplan"], dir).status).toBe(2); // differs: alert
  const plan: PlanJson = JSON.parse(ok(terraform(["show", "-json", "p.tfplan"], dir)));
  const summary = summarizePlan(plan, "dev");
  expect(summary.totals).toEqual({ create: 1, update: 1, replace: 1, delete: 1, before: 4, after: 4 });
  expect(summary.destructive).toEqual(["delete: terraform_data.gone", "replace: terraform_data.replaced"]);
  expect(renderSummaries([summary])).toContain(
    "| dev | 4 → 4 (±0) | 1 | 1 | 1 | 1 | ⚠️ destroys or replaces resources |",
  );

  // The CLI the workflows call: summarize to JSON, then render.
  writeFileSync(join(dir, "plan.json"), JSON.stringify(plan));
  const tsx = join(ROOT, "node_modules", ".bin", "tsx");
  const summarize = spawnSync(
    tsx,
    [join(ROOT, "scripts", "plan-summary.ts"), "summarize", "--environment", "dev", join(dir, "plan.json")],
    { encoding: "utf8" },
  );
  expect(summarize.status).toBe(0);
  writeFileSync(join(dir, "dev.json"), summarize.stdout);
  const render = spawnSync(
    tsx,
    [join(ROOT, "scripts", "plan-summary.ts"), "render", "--expect", "dev,prod", join(dir, "dev.json")],
    { encoding: "utf8" },
  );
  expect(render.status).toBe(0);
  expect(render.stdout).toBe(renderSummaries([JSON.parse(summarize.stdout)], { expected: ["dev", "prod"] }));
  expect(render.stdout).toContain("| prod | — |");
});

it("the dev stack's first plan creates exactly the resources the stack declares, by type", () => {
  const outdir = join(work, "synth");
  synth(outdir);
  const dev = defined(
    readStacks(outdir).find((s) => s.name === "dev"),
    "the dev stack",
  );
  const json = JSON.parse(readFileSync(join(dev.dir, "cdk.tf.json"), "utf8"));
  // Plan without an account: no backend, fake keys, and every provider call that needs AWS skipped.
  // Data sources would call AWS; plan the `local` stack against the emulator instead if dev gets one.
  expect({ dataSources: Object.keys(json.data ?? {}) }).toEqual({ dataSources: [] });
  delete json.terraform.backend;
  const provider = json.provider.aws[0];
  delete provider.allowed_account_ids;
  Object.assign(provider, {
    access_key: "planning-only",
    secret_key: "planning-only",
    skip_credentials_validation: true,
    skip_requesting_account_id: true,
    skip_metadata_api_check: "true",
    skip_region_validation: true,
  });
  const dir = join(work, "dev");
  mkdirSync(dir);
  writeFileSync(join(dir, "cdk.tf.json"), JSON.stringify(json));
  ok(terraform(["init", "-input=false"], dir));
  ok(terraform(["plan", "-input=false", "-lock=false", "-out=dev.tfplan"], dir));
  const summary = summarizePlan(JSON.parse(ok(terraform(["show", "-json", "dev.tfplan"], dir))), "dev");

  const expected = countByType(dev.json);
  const total = Object.values(expected).reduce((a, b) => a + b, 0);
  expect(total).toBeGreaterThan(0);
  expect(Object.fromEntries(Object.entries(summary.byType).map(([type, t]) => [type, t.create]))).toEqual(expected);
  expect(summary.totals).toEqual({ create: total, update: 0, replace: 0, delete: 0, before: 0, after: total });
});
