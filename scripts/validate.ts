/**
 * Real validation: synthesize every environment, then `terraform init -backend=false` and
 * `terraform validate` each stack. Exits 1 when any environment is invalid.
 *
 *   npm run validate                 # synth into cdktf.out, validate all
 *   npm run validate -- --no-synth   # validate what is already in cdktf.out
 */
import { join } from "node:path";
import { ROOT, requireTerraform, stackDirs, synth, terraform, terraformEnv } from "./lib/terraform";

export interface ValidationResult {
  readonly stack: string;
  readonly valid: boolean;
  /** Terraform's diagnostics, one line each ("error: <summary>: <detail> (<file>:<line>)"). */
  readonly diagnostics: readonly string[];
}

interface Diagnostic {
  severity: string;
  summary: string;
  detail?: string;
  range?: { filename: string; start: { line: number } };
}

export function validateStack(name: string, dir: string): ValidationResult {
  const init = terraform(["init", "-backend=false", "-input=false"], dir);
  if (!init.ok)
    return { stack: name, valid: false, diagnostics: [`init failed: ${init.stderr.trim() || init.stdout.trim()}`] };
  const result = terraform(["validate", "-json"], dir);
  const report = JSON.parse(result.stdout) as { valid: boolean; diagnostics: Diagnostic[] };
  return {
    stack: name,
    valid: report.valid && result.ok,
    diagnostics: report.diagnostics.map(
      (d) =>
        `${d.severity}: ${d.summary}${d.detail ? `: ${d.detail}` : ""}${d.range ? ` (${d.range.filename}:${d.range.start.line})` : ""}`,
    ),
  };
}

export function validateAll(outdir: string, options: { synth?: boolean } = {}): ValidationResult[] {
  requireTerraform();
  if (options.synth ?? true) synth(outdir);
  return Object.entries(stackDirs(outdir)).map(([name, dir]) => validateStack(name, dir));
}

if (require.main === module) {
  const outdir = join(ROOT, "cdktf.out");
  const setup = terraformEnv();
  console.log(
    `terraform ${requireTerraform()}; provider install: ${setup.mirror ? `filesystem mirror ${setup.mirror}` : "registry"}`,
  );
  const results = validateAll(outdir, { synth: !process.argv.includes("--no-synth") });
  for (const r of results) {
    console.log(`${r.valid ? "✓" : "✗"} ${r.stack}`);
    for (const d of r.diagnostics) console.log(`    ${d}`);
  }
  if (results.some((r) => !r.valid)) process.exit(1);
}
