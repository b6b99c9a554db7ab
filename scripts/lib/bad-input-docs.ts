/**
 * The bad-input tables of docs/bad-inputs.md, generated from the corpora the tests run:
 *  - environment configs: __tests__/fixtures/bad-configs.ts (run by __tests__/unit/environments.test.ts)
 *  - dataset contracts: __tests__/fixtures/bad-contracts.ts (run by __tests__/unit/contracts.test.ts)
 *  - stream queries of dataset contracts: __tests__/fixtures/bad-stream-queries.ts (run by __tests__/unit/stream-sql.test.ts)
 *  - api-ingest handler inputs: __tests__/fixtures/api-ingest-corpus.ts (run by __tests__/unit/api-ingest.test.ts
 *    and, against the emulator, __tests__/integration/api-ingest.test.ts)
 * The Glue bad-row table comes from glue-jobs/tests/bad_rows.py (Python), written by `npm run
 * docs:diagrams` and checked by glue-jobs/tests/test_bad_rows.py.
 */
import { BAD_CONFIGS } from "../../__tests__/fixtures/bad-configs";
import { BAD_CONTRACTS } from "../../__tests__/fixtures/bad-contracts";
import { CORPUS } from "../../__tests__/fixtures/api-ingest-corpus";
import { BAD_STREAM_QUERIES } from "../../__tests__/fixtures/bad-stream-queries";
import { cell } from "./readme-blocks";

export const CONFIG_BLOCK = "bad-inputs-config";
export const API_BLOCK = "bad-inputs-api";
export const GLUE_BLOCK = "bad-inputs-glue";

/** Every invalid environment config and dataset contract tried, and the error that stopped synth. */
export function renderConfigCorpus(): string {
  const cases = [
    ...BAD_CONFIGS.map(([title, , error]) => [title, error]),
    ...BAD_CONTRACTS.map(([title, , error]) => [`contract: ${title}`, error]),
  ];
  const rows = cases.map(([title, error], i) => `| ${i + 1} | ${cell(title)} | \`${cell(error)}\` |`);
  return [
    `${BAD_CONFIGS.length} invalid environment configurations and ${BAD_CONTRACTS.length} invalid dataset contracts, each rejected before anything is synthesized with exactly one problem line:`,
    "",
    "<details><summary>every case</summary>",
    "",
    "| # | what is wrong | the error (environment or dataset: field: rule) |",
    "| --- | --- | --- |",
    ...rows,
    "",
    "</details>",
    "",
    `${BAD_STREAM_QUERIES.length} invalid stream queries in a dataset contract, each rejected at synth naming the contract, the query and the problem:`,
    "",
    "<details><summary>every case</summary>",
    "",
    "| # | what is wrong | the error |",
    "| --- | --- | --- |",
    ...BAD_STREAM_QUERIES.map(([title, , error], i) => `| ${i + 1} | ${cell(title)} | \`${cell(error)}\` |`),
    "",
    "</details>",
  ].join("\n");
}

/** Every malformed API response tried, and where its records ended. */
export function renderApiCorpus(): string {
  const rows = CORPUS.map((c) => {
    const r = c.expected.records;
    const reasons =
      Object.entries(c.expected.reasons)
        .map(([reason, n]) => `\`${reason}\` ×${n}`)
        .join(", ") || "—";
    const pages = [
      `${c.expected.pages.fetched} fetched`,
      c.expected.pages.empty ? `${c.expected.pages.empty} empty` : "",
      c.expected.pages.quarantined ? `${c.expected.pages.quarantined} quarantined` : "",
    ]
      .filter(Boolean)
      .join(", ");
    return `| \`${c.id}\` | ${cell(c.input)} | ${c.expected.status} | ${pages} | ${r.received} / ${r.written} / ${r.quarantined} / ${r.duplicates} | ${reasons} |`;
  });
  return [
    `${CORPUS.length} malformed API inputs; every record ends written, quarantined with a reason, or counted as a duplicate (received = written + quarantined + duplicates):`,
    "",
    "<details><summary>every case</summary>",
    "",
    "| case | the API sends | run status | pages | records received / written / quarantined / duplicates | quarantined as |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
    "</details>",
  ].join("\n");
}
