/**
 * Prints the `--dataset_contract` JSON of every dataset for one environment — exactly what the
 * Glue jobs receive. PySpark tests and the local end-to-end run use it, so they exercise the
 * contracts and partition spec the stacks deploy.
 *
 *   npx tsx scripts/export-contracts.ts dev > contracts.json
 */
import { DATASETS, PartitionedDataset } from "../datasets";
import { loadEnvironment } from "../environments";

const name = process.argv[2];
if (!name) {
  console.error("usage: tsx scripts/export-contracts.ts <environment>");
  process.exit(2);
}
const env = loadEnvironment(name);
const contracts = Object.fromEntries(
  DATASETS.map((d) => [d.name, new PartitionedDataset(d, env.partitioning, env.name).jobContract()]),
);
process.stdout.write(`${JSON.stringify(contracts, null, 2)}\n`);
