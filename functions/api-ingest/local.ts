/**
 * Runs the real handler once, outside Lambda, configured by the same environment variables
 * (README.md lists them), e.g. against the emulator and a loopback sample API:
 *
 *   API_URL=http://127.0.0.1:8080/<source.path> DATASET=<dataset> DATASET_CONTRACT="$(npx tsx scripts/export-contracts.ts local | jq -c '.["<dataset>"]')" \
 *   RAW_BUCKET=… RAW_KMS_KEY_ARN=… QUARANTINE_BUCKET=… QUARANTINE_KMS_KEY_ARN=… DEAD_LETTER_QUEUE_URL=… \
 *   S3_FORCE_PATH_STYLE=true AWS_ENDPOINT_URL=https://127.0.0.1:PORT AWS_CA_BUNDLE=… \
 *   npx tsx functions/api-ingest/local.ts ['{"startUrl": "…"}']
 *
 * Prints the run summary as JSON as the last line on stdout (the handler's JSON logs come before it),
 * and into the file RUN_SUMMARY_FILE names, when set. Exit code: 0 complete, 2 incomplete (a page was
 * quarantined or the page limit was reached), 3 dead-lettered, 1 configuration error or crash.
 */
import { writeFileSync } from "node:fs";
import { createHandler, type Clients } from "./index";
import type { IngestEvent, RunSummary } from "./ingest";

export const EXIT_CODES = { complete: 0, incomplete: 2, "dead-lettered": 3 } as const;

/** Runs the handler once with `env` (default: this process's) and returns its summary. */
export async function runLocal(
  event: IngestEvent = {},
  env: NodeJS.ProcessEnv = process.env,
  clients?: Clients,
): Promise<RunSummary> {
  // Metrics go to stdout as EMF in Lambda; locally they would mix with the summary, so they are off
  // unless the caller turns them on (Powertools reads this from the process environment).
  process.env.POWERTOOLS_METRICS_DISABLED ??= env.POWERTOOLS_METRICS_DISABLED ?? "true";
  const handler = createHandler({ env, clients });
  return handler(event, { awsRequestId: `local-${process.pid}` });
}

if (require.main === module) {
  const event = process.argv[2] ? (JSON.parse(process.argv[2]) as IngestEvent) : {};
  runLocal(event).then(
    (summary) => {
      if (process.env.RUN_SUMMARY_FILE)
        writeFileSync(process.env.RUN_SUMMARY_FILE, `${JSON.stringify(summary, null, 2)}\n`);
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      process.exitCode = EXIT_CODES[summary.status];
    },
    (error: Error) => {
      process.stderr.write(`${error.name === "ConfigurationError" ? error.message : (error.stack ?? String(error))}\n`);
      process.exitCode = 1;
    },
  );
}
