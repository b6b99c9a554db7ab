/**
 * Generated documentation: one architecture page per environment (docs/architecture-<env>.md),
 * the policy-scan skip table in docs/security.md (from the skips recorded on the synthesized
 * resources) and the bad-input tables in docs/bad-inputs.md (from the corpora the tests run; the
 * Glue table from glue-jobs/tests/bad_rows.py).
 *
 *   npm run docs:diagrams            # synthesize, then (re)write the pages and blocks
 *   npm run docs:diagrams -- --check # exit 1 and name the stale files instead of writing
 *
 * The unit tests regenerate the same text from an in-process synth and fail when a file differs,
 * so the pages cannot fall behind the stacks. `npm run docs:render` (scripts/docs-render.ts)
 * draws the architecture pages' diagrams as pictures.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadEnvironments, type EnvironmentConfig } from "../environments";
import { spawnSync } from "node:child_process";
import { API_BLOCK, CONFIG_BLOCK, GLUE_BLOCK, renderApiCorpus, renderConfigCorpus } from "./lib/bad-input-docs";
import { renderArchitectureDoc } from "./lib/diagram";
import { renderSkipTable, skipTable } from "./lib/policy-scan";
import { replaceBlock } from "./lib/readme-blocks";
import { readStacks, type TerraformJson } from "./lib/stacks";
import { ROOT, synth } from "./lib/terraform";

/** Page holding the policy-scan skips, and its block. */
export const SECURITY_PAGE = "docs/security.md";
export const SKIPS_BLOCK = "policy-skips";

/** Page holding the bad-input tables. */
export const BAD_INPUTS_PAGE = "docs/bad-inputs.md";

/** The policy-scan skip table for these stacks (which must carry construct metadata). */
export function renderSkipsBlock(envs: readonly { config: EnvironmentConfig; json: TerraformJson }[]): string {
  const rows = skipTable(envs.map((e) => ({ name: e.config.name, json: e.json })));
  return renderSkipTable(
    rows,
    envs.map((e) => e.config.name),
  );
}

/**
 * Every generated file (path relative to the repository root) and its expected content, except the
 * Glue bad-row table (Python: see renderGlueCorpus). `read` gives a page's committed text, whose
 * hand-written parts around the generated blocks are kept.
 */
export function generatedDocs(
  envs: readonly { config: EnvironmentConfig; json: TerraformJson }[],
  read: (rel: string) => string,
): Record<string, string> {
  const files: Record<string, string> = {};
  for (const { config, json } of envs)
    files[`docs/architecture-${config.name}.md`] = renderArchitectureDoc(json, config);
  files[SECURITY_PAGE] = replaceBlock(read(SECURITY_PAGE), SKIPS_BLOCK, renderSkipsBlock(envs), SECURITY_PAGE);
  let badInputs = replaceBlock(read(BAD_INPUTS_PAGE), CONFIG_BLOCK, renderConfigCorpus(), BAD_INPUTS_PAGE);
  badInputs = replaceBlock(badInputs, API_BLOCK, renderApiCorpus(), BAD_INPUTS_PAGE);
  files[BAD_INPUTS_PAGE] = badInputs;
  return files;
}

/** A committed file's text (what generatedDocs reads). */
export function readCommitted(rel: string): string {
  return readFileSync(join(ROOT, rel), "utf8");
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
    const files = generatedDocs(envs, readCommitted);
    files[BAD_INPUTS_PAGE] = replaceBlock(files[BAD_INPUTS_PAGE], GLUE_BLOCK, renderGlueCorpus(), BAD_INPUTS_PAGE);
    const orphans = orphanedPages(
      ROOT,
      configs.map((c) => c.name),
    );
    const stale = Object.entries(files).filter(
      ([rel, text]) => !existsSync(join(ROOT, rel)) || readFileSync(join(ROOT, rel), "utf8") !== text,
    );
    if (check) {
      const problems = [
        ...stale.map(([rel]) => `${rel} is out of date`),
        ...orphans.map((rel) => `${rel} belongs to no environment`),
      ];
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
    console.log(
      `wrote ${stale.length} of ${Object.keys(files).length} generated files${orphans.length ? `, removed ${orphans.join(", ")}` : ""}`,
    );
    return 0;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/**
 * The Glue bad-row table, printed by glue-jobs/tests/bad_rows.py in the project's virtualenv (the
 * table is Python data; glue-jobs/tests/test_bad_rows.py checks docs/bad-inputs.md holds it).
 */
export function renderGlueCorpus(): string {
  const python = join(ROOT, ".venv", "bin", "python");
  if (!existsSync(python)) throw new Error(`${python} is missing: run \`npm run setup:py\` first`);
  const result = spawnSync(python, [join(ROOT, "glue-jobs", "tests", "bad_rows.py")], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`glue-jobs/tests/bad_rows.py failed:\n${result.stderr}`);
  const table = result.stdout.trim();
  const rows = table.split("\n").slice(2);
  const bad = rows.filter((r) =>
    r
      .split("|")
      .slice(3, 5)
      .some((c) => c.trim() !== "processed"),
  ).length;
  return [
    `${rows.length} kinds of rows through the real raw → processed job, ${bad} of them bad in at least one environment; each bad row is quarantined with its reason and column, and raw = processed + quarantined for each run:`,
    "",
    "<details><summary>every case</summary>",
    "",
    table,
    "",
    "</details>",
  ].join("\n");
}

if (require.main === module) {
  try {
    process.exit(main(process.argv.includes("--check")));
  } catch (error) {
    console.error(error instanceof ConfigError || error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
