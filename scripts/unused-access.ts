/**
 * The unused-access page (docs/unused-access.md): every local role's granted actions, how often the
 * end-to-end run exercised each, and why each unused one is kept.
 *
 *   npm run docs:unused-access                      # regenerate the page from the committed snapshot
 *   npm run docs:unused-access -- --from <report>   # refresh the snapshot from a main-job report first
 *                                                   # (default report: .emulator/e2e/report.json)
 *   npm run docs:unused-access -- --check           # exit 1 when the page is stale or a grant lacks a reason
 *
 * After a change to a grant: `npm start`, then `npm run docs:unused-access -- --from`, and commit both files.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadEnvironments } from "../environments";
import {
  EXERCISED_SNAPSHOT,
  UNUSED_ACCESS_PAGE,
  renderUnusedAccess,
  rolesByEnvironment,
  snapshotOf,
  unusedAccess,
  type ExercisedSnapshot,
} from "./lib/unused-access";
import { ROOT } from "./lib/terraform";

const args = process.argv.slice(2);
const check = args.includes("--check");
const fromAt = args.indexOf("--from");
const from =
  fromAt < 0
    ? undefined
    : args[fromAt + 1] && !args[fromAt + 1].startsWith("--")
      ? args[fromAt + 1]
      : join(ROOT, ".emulator", "e2e", "report.json");

const { local, others } = rolesByEnvironment(loadEnvironments());

let snapshot: ExercisedSnapshot;
if (from) {
  if (!existsSync(from))
    throw new Error(
      `${from} does not exist: run \`npm start\` first (it writes the report with the decision log's exercised grants)`,
    );
  const report = JSON.parse(readFileSync(from, "utf8"));
  if (report.iam?.mode !== "enforce" || !report.iam?.exercised)
    throw new Error(`${from} has no exercised grants of an enforced run (iam.mode ${report.iam?.mode})`);
  snapshot = snapshotOf(report.iam.exercised, local.roles);
  writeFileSync(join(ROOT, EXERCISED_SNAPSHOT), `${JSON.stringify(snapshot, null, 2)}\n`);
  console.log(`wrote ${EXERCISED_SNAPSHOT} (${Object.keys(snapshot).length} roles)`);
} else {
  snapshot = JSON.parse(readFileSync(join(ROOT, EXERCISED_SNAPSHOT), "utf8"));
}

const report = unusedAccess(local, others, snapshot);
const page = renderUnusedAccess(report);
const path = join(ROOT, UNUSED_ACCESS_PAGE);
if (check) {
  const stale = !existsSync(path) || readFileSync(path, "utf8") !== page;
  if (stale) console.error(`${UNUSED_ACCESS_PAGE} is stale: run npm run docs:unused-access`);
  for (const p of report.problems) console.error(`problem: ${p}`);
  process.exit(stale || report.problems.length ? 1 : 0);
}
writeFileSync(path, page);
console.log(
  `wrote ${UNUSED_ACCESS_PAGE}: ${report.rows.length} granted actions, ${report.rows.filter((r) => r.count === 0).length} unused, ${report.problems.length} problem(s)`,
);
for (const p of report.problems) console.error(`problem: ${p}`);
if (report.problems.length) process.exitCode = 1;
