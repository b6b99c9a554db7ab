/**
 * Generated documentation: one architecture page per environment (docs/architecture-<env>.md) and
 * the dev and prod diagrams in the README, between the generated-architecture markers.
 *
 *   npm run docs:diagrams            # synthesize, then (re)write the pages and the README block
 *   npm run docs:diagrams -- --check # exit 1 and name the stale files instead of writing
 *
 * The unit tests regenerate the same text from an in-process synth and fail when a file differs,
 * so the diagrams cannot fall behind the stacks.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadEnvironments, type EnvironmentConfig } from "../environments";
import { renderArchitectureDoc, renderReadmeBlock, replaceReadmeBlock } from "./lib/diagram";
import { readStacks, type TerraformJson } from "./lib/stacks";
import { ROOT, synth } from "./lib/terraform";

/** Environments whose diagrams the README shows. */
export const README_ENVIRONMENTS = ["dev", "prod"] as const;

/** Every generated file (path relative to the repository root) and its expected content. */
export function generatedDocs(envs: readonly { config: EnvironmentConfig; json: TerraformJson }[], readme: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const { config, json } of envs) files[`docs/architecture-${config.name}.md`] = renderArchitectureDoc(json, config);
  const shown = README_ENVIRONMENTS.map((name) => {
    const env = envs.find((e) => e.config.name === name);
    if (!env) throw new Error(`README diagram environment "${name}" is not synthesized`);
    return env;
  });
  files["README.md"] = replaceReadmeBlock(readme, renderReadmeBlock(shown));
  return files;
}

/** Architecture pages in docs/ whose environment no longer exists. */
export function orphanedPages(root: string, envNames: readonly string[]): string[] {
  const dir = join(root, "docs");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => /^architecture-(.+)\.md$/.exec(f))
    .filter((m): m is RegExpExecArray => !!m && !envNames.includes(m[1]))
    .map((m) => `docs/${m[0]}`);
}

function main(check: boolean): number {
  const configs = loadEnvironments();
  const outdir = mkdtempSync(join(tmpdir(), "docs-synth-"));
  try {
    synth(outdir);
    const stacks = readStacks(outdir);
    const envs = configs.map((config) => {
      const stack = stacks.find((s) => s.name === config.name);
      if (!stack) throw new Error(`no synthesized stack for environment ${config.name}`);
      return { config, json: stack.json };
    });
    const files = generatedDocs(envs, readFileSync(join(ROOT, "README.md"), "utf8"));
    const orphans = orphanedPages(ROOT, configs.map((c) => c.name));
    const stale = Object.entries(files).filter(([rel, text]) => !existsSync(join(ROOT, rel)) || readFileSync(join(ROOT, rel), "utf8") !== text);
    if (check) {
      const problems = [...stale.map(([rel]) => `${rel} is out of date`), ...orphans.map((rel) => `${rel} belongs to no environment`)];
      if (problems.length === 0) {
        console.log(`generated docs are up to date (${Object.keys(files).length} files)`);
        return 0;
      }
      console.error(`${problems.join("\n")}\nrun \`npm run docs:diagrams\` and commit the result`);
      return 1;
    }
    mkdirSync(join(ROOT, "docs"), { recursive: true });
    for (const [rel, text] of stale) writeFileSync(join(ROOT, rel), text);
    for (const rel of orphans) rmSync(join(ROOT, rel));
    console.log(`wrote ${stale.length} of ${Object.keys(files).length} generated files${orphans.length ? `, removed ${orphans.join(", ")}` : ""}`);
    return 0;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  try {
    process.exit(main(process.argv.includes("--check")));
  } catch (error) {
    console.error(error instanceof ConfigError || error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
