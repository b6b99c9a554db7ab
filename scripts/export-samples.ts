/**
 * Writes every dataset's good sample records — the ones `npm start` feeds its sources, made from
 * the contract and the environment's partition spec (scripts/local/sample-data.ts) — as
 * `<dataset>.jsonl` into a directory. The stream-SQL tests read them, so they run on the same
 * records and no test names a dataset.
 *
 *   npx tsx scripts/export-samples.ts prod /tmp/samples [--count 240] [--days 3]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DATASETS } from "../datasets";
import { loadEnvironment } from "../environments";
import { sampleSet } from "./local/sample-data";

const [name, out, ...rest] = process.argv.slice(2);
if (!name || !out) {
  console.error("usage: tsx scripts/export-samples.ts <environment> <directory> [--count n] [--days n]");
  process.exit(2);
}
const option = (flag: string, fallback: number): number => {
  const i = rest.indexOf(flag);
  if (i < 0) return fallback;
  const n = Number(rest[i + 1]);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${flag} needs a positive integer (got ${rest[i + 1] ?? "nothing"})`);
  return n;
};
const env = loadEnvironment(name);
mkdirSync(out, { recursive: true });
for (const contract of DATASETS) {
  const { good } = sampleSet(contract, env.partitioning, { count: option("--count", 240), days: option("--days", 3) });
  writeFileSync(join(out, `${contract.name}.jsonl`), good.map((row) => `${JSON.stringify(row)}\n`).join(""));
}
