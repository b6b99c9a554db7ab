/**
 * What would differ between two environments, before promoting from one to the other.
 *
 *   npm run env:diff -- staging prod                      # synthesizes into a temporary directory
 *   npm run env:diff -- staging prod --synth-dir cdktf.out  # uses an existing synth output (e.g. the artifact)
 *
 * Prints markdown: configuration fields that differ (both values), resource counts by type and by
 * module that differ, and whether the bundles both use are byte-identical (exit 1 if not).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError, loadEnvironment } from "../environments";
import { diffEnvironments, renderDiff } from "./lib/env-diff";
import { readStacks } from "./lib/stacks";
import { synth } from "./lib/terraform";

function main(argv: string[]): number {
  const args = [...argv];
  const at = args.indexOf("--synth-dir");
  const synthDir = at >= 0 ? args.splice(at, 2)[1] : undefined;
  if (args.length !== 2 || (at >= 0 && !synthDir)) {
    console.error("usage: npm run env:diff -- <environment-a> <environment-b> [--synth-dir <dir>]");
    return 2;
  }
  const [a, b] = args.map((name) => loadEnvironment(name));
  let outdir = synthDir ? resolve(synthDir) : undefined;
  const temporary = outdir === undefined;
  if (!outdir) {
    outdir = mkdtempSync(join(tmpdir(), "env-diff-"));
    synth(outdir);
  }
  try {
    const stacks = readStacks(outdir);
    const stackOf = (name: string) => {
      const stack = stacks.find((s) => s.name === name);
      if (!stack) throw new Error(`${outdir} has no stack "${name}" (stacks: ${stacks.map((s) => s.name).join(", ")})`);
      return stack;
    };
    const diff = diffEnvironments({ config: a, stack: stackOf(a.name) }, { config: b, stack: stackOf(b.name) });
    process.stdout.write(renderDiff(diff));
    return diff.bundles.problems.length > 0 ? 1 : 0;
  } finally {
    if (temporary) rmSync(outdir, { recursive: true, force: true });
  }
}

try {
  process.exit(main(process.argv.slice(2)));
} catch (error) {
  console.error(error instanceof ConfigError || error instanceof Error ? error.message : String(error));
  process.exit(1);
}
