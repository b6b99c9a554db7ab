/**
 * The GitOps commands as the workflows and operators run them (real entry points, real synth):
 * artifact create/verify, env:diff, the generated-docs check, the environment list, workflow lint.
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, synth } from "../../scripts/lib/terraform";

const outdir = mkdtempSync(join(tmpdir(), "gitops-cli-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));
beforeAll(() => synth(outdir));

const run = (script: string, ...args: string[]) =>
  spawnSync(join(ROOT, "node_modules", ".bin", "tsx"), [join(ROOT, "scripts", script), ...args], {
    cwd: ROOT,
    encoding: "utf8",
  });

it("npm run artifact: create prints the digest; verify passes on it and fails once a file changes", () => {
  const created = run("artifact.ts", "create", outdir);
  expect(created.status).toBe(0);
  const digest = created.stdout.trim();
  expect(digest).toMatch(/^[0-9a-f]{64}$/);
  expect(run("artifact.ts", "verify", outdir, "--digest", digest).status).toBe(0);

  appendFileSync(join(outdir, "stacks", "prod", "cdk.tf.json"), " ");
  const verified = run("artifact.ts", "verify", outdir, "--digest", digest);
  expect(verified.status).toBe(1);
  expect(verified.stderr).toContain(
    `artifact verification FAILED for ${outdir}:\n  - modified: stacks/prod/cdk.tf.json`,
  );
});

it("npm run env:diff -- staging prod: config and resource differences, from a fresh synth", () => {
  const result = run("env-diff.ts", "staging", "prod");
  expect(result.status).toBe(0);
  expect(result.stdout).toContain("## staging → prod: what differs");
  expect(result.stdout).toContain('| `tier` | `"nonprod"` | `"prod"` |');
  expect(result.stdout).toContain('| `accountId` | `"222222222222"` | `"333333333333"` |');
  expect(result.stdout).toMatch(/### Resources \(\d+ in staging, \d+ in prod\)/);
  const unknown = run("env-diff.ts", "staging", "qa");
  expect(unknown.status).toBe(1);
  expect(unknown.stderr).toContain("qa: name: is not defined (known: dev, staging, prod, local)");
});

it("npm run docs:diagrams -- --check: the committed diagrams match the stacks", () => {
  const result = run("docs.ts", "--check");
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
});

it("npm run ci:environments: the deployable environments in promotion order, with their regions", () => {
  const result = run("ci-environments.ts");
  expect(result.status).toBe(0);
  expect(JSON.parse(result.stdout)).toEqual([
    { name: "dev", region: "eu-west-1" },
    { name: "staging", region: "eu-west-1" },
    { name: "prod", region: "eu-west-1" },
  ]);
  expect(run("ci-environments.ts", "--region", "prod").stdout.trim()).toBe("eu-west-1");
});

it("npm run lint:workflows: passes on the workflows, exits 1 on the broken fixture", () => {
  expect(run("lint-workflows.ts").status).toBe(0);
  const broken = run("lint-workflows.ts", join(ROOT, "__tests__", "fixtures", "workflows", "broken.yml"));
  expect(broken.status).toBe(1);
  expect(broken.stderr).toContain('job "deploy" needs job "biuld" which does not exist in this workflow [job-needs]');
});
