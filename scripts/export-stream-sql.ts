/**
 * Prints the stream-SQL job of every dataset that declares stream queries, for one environment:
 * exactly the job.json each application's package carries. The PyFlink tests (stream-sql/tests)
 * run these statements.
 *
 *   npx tsx scripts/export-stream-sql.ts dev > jobs.json
 */
import { DATASETS, PartitionedDataset } from "../datasets";
import { loadEnvironment } from "../environments";
import { jobSpec } from "../modules/streaming/package";

const name = process.argv[2];
if (!name) {
  console.error("usage: tsx scripts/export-stream-sql.ts <environment>");
  process.exit(2);
}
const env = loadEnvironment(name);
const jobs = Object.fromEntries(
  DATASETS.map((d) => new PartitionedDataset(d, env.partitioning, env.name)).flatMap((d) => {
    const spec = jobSpec(d);
    return spec ? [[d.name, spec]] : [];
  }),
);
process.stdout.write(`${JSON.stringify(jobs, null, 2)}\n`);
