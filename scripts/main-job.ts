/**
 * The README's main command (`npm start`): synth every environment, then prove the platform on
 * this machine — start the embedded emulator, apply the `local` stack, plan dev/staging/prod with
 * their real configuration, and run the data path end to end:
 *
 *   sample carrier API (loopback) → real api-ingest handler → raw
 *   sample RDS table, DynamoDB table, click stream → the Glue extracts / Kinesis → raw
 *   Glue scripts (local PySpark): raw → processed (+ quarantine) → consumer
 *   the deployed named query, with DuckDB standing in for Athena
 *
 * and print a summary. Every run starts from an empty emulator, so a second run gives the same
 * result. Any failure stops the run with a clear message and exit code 1; the emulator is stopped
 * in every case.
 *
 *   npm start                      # everything
 *   npm start -- --skip-plans      # leave out the dev/staging/prod plans
 */
import { PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadEnvironment, loadEnvironments } from "../environments";
import { Emulator } from "./emulator";
import * as emulated from "./lib/emulated";
import { ROOT, requireTerraform, terraform } from "./lib/terraform";
import { Progress, StepError } from "./local/progress";
import { SampleApi } from "./local/sample-api";

const WORK = join(ROOT, ".emulator", "e2e");
const PYTHON = join(ROOT, ".venv", "bin", "python");

interface PipelineReport {
  datasets: Record<
    string,
    {
      raw: number;
      processed: number;
      quarantined: number;
      quarantinedByReason: Record<string, number>;
      consumerTable: string;
      consumerRows: number;
      consumerTotals?: Record<string, { consumer: string; processed: string }>;
      rawReconciled: boolean;
      consumerReconciled: boolean;
    }
  >;
  query: { name: string; sql: string; columns: string[]; rows: Record<string, string | null>[] };
  reconciled: boolean;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const result = spawnSync(command, args, { cwd: ROOT, env, encoding: "utf8", maxBuffer: 256 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim().split("\n").slice(-25).join("\n");
    throw new Error(`${command} ${args.join(" ")} exited ${result.status}:\n${output}`);
  }
  return result.stdout;
}

/** Like `run`, without blocking this process: servers it hosts (the sample API) keep answering. */
function runAsync(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (status) => {
      if (status === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(" ")} exited ${status}:\n${`${stdout}${stderr}`.trim().split("\n").slice(-25).join("\n")}`));
    });
  });
}

function checkOk(result: { ok: boolean; stdout: string; stderr: string }, what: string): void {
  if (!result.ok) throw new Error(`${what}:\n${(result.stderr || result.stdout).trim().split("\n").slice(-25).join("\n")}`);
}

async function main(): Promise<void> {
  // Node 20 is this project's runtime; the SDK's notice about its future Node 22 floor is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const skipPlans = process.argv.includes("--skip-plans");
  const progress = new Progress(skipPlans ? 7 : 8);
  mkdirSync(WORK, { recursive: true });
  requireTerraform();

  await progress.run(
    "Synthesizing every environment (cdktf synth)",
    () => run(join(ROOT, "node_modules", ".bin", "cdktf"), ["synth"], { ...process.env, CHECKPOINT_DISABLE: "1", CI: "1" }),
    () => `stacks: ${loadEnvironments().map((e) => e.name).join(", ")} in cdktf.out/stacks`,
  );

  const emulator = await progress.run("Starting the emulator (moto over TLS)", () => Emulator.start(), (e) => e.endpoint);
  let api: SampleApi | undefined;
  try {
    const synthDir = join(ROOT, "cdktf.out");
    const local = loadEnvironment("local");
    const stack = emulated.prepareStack(synthDir, local, emulator);
    const deployed = await progress.run(
      "Applying the local stack (terraform apply)",
      () => {
        checkOk(emulated.init(stack), "terraform init failed");
        checkOk(emulated.apply(stack), "terraform apply failed");
        return emulated.stateResources(stack).length;
      },
      (n) => `${n} resources`,
    );

    const plans: string[] = [];
    if (!skipPlans) {
      await progress.run(
        "Planning dev, staging and prod against the emulator (each as its own account)",
        () => {
          for (const env of loadEnvironments().filter((e) => e.tier !== "local")) {
            const planned = emulated.prepareStack(synthDir, env, emulator);
            checkOk(emulated.init(planned), `terraform init (${env.name}) failed`);
            const result = emulated.plan(planned);
            if (result.status !== 0 && result.status !== 2) checkOk(result, `terraform plan (${env.name}) failed`);
            plans.push(`${env.name}: ${emulated.planLine(result)}`);
          }
          return plans;
        },
        (p) => p.map((line) => line.replace(/ to add, 0 to change, 0 to destroy\./, " to add")).join("; "),
      );
    }

    const env: NodeJS.ProcessEnv = { ...process.env, ...emulator.env(local.accountId, local.region) };
    const outputs = emulated.terraformOutputJson(stack);
    writeFileSync(join(WORK, "outputs.json"), outputs);
    const contracts = run(join(ROOT, "node_modules", ".bin", "tsx"), [join(ROOT, "scripts", "export-contracts.ts"), "local"]);
    writeFileSync(join(WORK, "contracts.json"), contracts);
    const samples = join(WORK, "samples");
    await progress.run("Generating sample data (API pages, RDS rows, DynamoDB items, click events)", () =>
      run(PYTHON, [join(ROOT, "scripts", "local", "sample_data.py"), samples]),
    );

    const handler = await progress.run(
      "Ingesting the carrier API with the real api-ingest handler",
      async () => {
        const pages: { items: unknown[]; next: string | null }[] = JSON.parse(readFileSync(join(samples, "shipments_pages.json"), "utf8"));
        const script = Object.fromEntries(pages.map((page, i) => [i === 0 ? "/v1/shipments" : `/v1/shipments?page=${i + 1}`, [{ json: page }]]));
        api = await SampleApi.start(script);
        const functionEnv = deployedFunctionEnvironment(stack, "shipments");
        // The operator's step after a deploy: store the carrier's credentials in the function's secret.
        const token = randomBytes(18).toString("base64url");
        await new SecretsManagerClient({
          endpoint: emulator.endpoint,
          region: local.region,
          credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
          requestHandler: { httpsAgent: emulator.httpsAgent() },
        }).send(new PutSecretValueCommand({ SecretId: functionEnv.API_SECRET_ARN, SecretString: JSON.stringify({ token }) }));
        const summaryFile = join(WORK, "api-ingest-summary.json");
        await runAsync(join(ROOT, "node_modules", ".bin", "tsx"), [join(ROOT, "functions", "api-ingest", "local.ts")], {
          ...env,
          ...functionEnv,
          API_URL: api.url("/v1/shipments"),
          S3_FORCE_PATH_STYLE: "true",
          RUN_SUMMARY_FILE: summaryFile,
        });
        const authorized = api.requests.filter((r) => r.headers.authorization === `Bearer ${token}`).length;
        if (authorized !== api.requests.length) throw new Error(`${api.requests.length - authorized} API request(s) came without the secret's credentials`);
        const summary = JSON.parse(readFileSync(summaryFile, "utf8")) as { status: string; pages: { fetched: number }; records: Record<string, number>; quarantineReasons: Record<string, number> };
        return { ...summary, authorized };
      },
      (s) => `${s.status}: ${s.pages.fetched} pages (${s.authorized} requests with the secret's token), ${s.records.received} records → ${s.records.written} written, ${s.records.quarantined} quarantined`,
    );

    const reportFile = join(WORK, "report.json");
    const report = await progress.run(
      "Running the data path: extracts, Kinesis → Firehose, Glue scripts (local PySpark), DuckDB query",
      () => {
        const result = spawnSync(
          PYTHON,
          [join(ROOT, "scripts", "local", "run_pipeline.py"), "--outputs", join(WORK, "outputs.json"), "--contracts", join(WORK, "contracts.json"), "--samples", samples, "--work", join(WORK, "work"), "--report", reportFile],
          { cwd: ROOT, env, stdio: ["ignore", "inherit", "pipe"], encoding: "utf8" },
        );
        // 0: reconciled, 3: ran but records do not reconcile (the report says where); anything else: a crash.
        if (result.status !== 0 && result.status !== 3) {
          throw new Error(`the data path failed (exit ${result.status}):\n${(result.stderr ?? "").trim().split("\n").slice(-30).join("\n")}`);
        }
        return JSON.parse(readFileSync(reportFile, "utf8")) as PipelineReport;
      },
      (r) => (r.reconciled ? "every dataset reconciles" : "RECONCILIATION FAILED"),
    );

    await progress.run("Summary", () => printSummary(deployed, plans, handler, report));
    if (!report.reconciled) throw new StepError("Reconciliation", new Error(`records do not reconcile; see ${reportFile}`));
  } finally {
    await api?.stop();
    await emulator.stop();
  }
}

/** The api-ingest function's environment as deployed (from the local stack's state). */
function deployedFunctionEnvironment(stack: emulated.EmulatedStack, dataset: string): Record<string, string> {
  const shown = terraform(["show", "-json"], stack.dir, stack.env);
  checkOk(shown, "terraform show failed");
  type Resource = { type: string; values: { function_name?: string; environment?: { variables: Record<string, string> }[] } };
  const resources: Resource[] = JSON.parse(shown.stdout).values.root_module.resources;
  const fn = resources.find((r) => r.type === "aws_lambda_function" && r.values.environment?.[0]?.variables?.DATASET === dataset);
  if (!fn) throw new Error(`no deployed api-ingest function for ${dataset}`);
  return fn.values.environment![0].variables;
}

function printSummary(
  deployed: number,
  plans: string[],
  handler: { status: string; records: Record<string, number>; quarantineReasons: Record<string, number> },
  report: PipelineReport,
): void {
  const out: string[] = [];
  out.push("", "Platform");
  out.push(`  local stack: ${deployed} resources deployed to the emulator`);
  for (const line of plans) out.push(`  plan ${line}`);
  out.push("", "API ingest (real handler, loopback carrier API)");
  const reasons = Object.entries(handler.quarantineReasons).map(([r, n]) => `${r} ×${n}`).join(", ");
  out.push(`  ${handler.records.received} received, ${handler.records.written} written to raw, ${handler.records.quarantined} quarantined${reasons ? ` (${reasons})` : ""}, ${handler.records.duplicates} duplicates`);
  out.push("", "Records per zone");
  const rows = [["dataset", "raw", "processed", "quarantined", "consumer", "reconciled"]];
  for (const [name, d] of Object.entries(report.datasets)) {
    const totals = d.consumerTotals ? ` (${Object.entries(d.consumerTotals).map(([m, t]) => `${m} ${t.consumer}`).join(", ")})` : "";
    rows.push([name, String(d.raw), String(d.processed), String(d.quarantined), `${d.consumerTable}: ${d.consumerRows} rows${totals}`, d.rawReconciled && d.consumerReconciled ? "yes" : "NO"]);
  }
  out.push(...table(rows).map((l) => `  ${l}`));
  out.push("", "Quarantine reasons");
  for (const [name, d] of Object.entries(report.datasets)) {
    out.push(`  ${name}: ${Object.entries(d.quarantinedByReason).map(([r, n]) => `${r} ×${n}`).join(", ") || "none"}`);
  }
  out.push("", `Query ${report.query.name} (DuckDB standing in for Athena): ${report.query.rows.length} rows`);
  out.push(...report.query.sql.split("\n").map((l) => `  | ${l}`));
  const shown = report.query.rows.slice(0, 8).map((r) => report.query.columns.map((c) => r[c] ?? ""));
  out.push(...table([report.query.columns, ...shown]).map((l) => `  ${l}`));
  if (report.query.rows.length > shown.length) out.push(`  … ${report.query.rows.length - shown.length} more`);
  process.stdout.write(`${out.join("\n")}\n\n`);
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((cell, i) => (cell ?? "").padEnd(widths[i])).join("  ").trimEnd();
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)];
}

main().catch((error: Error) => {
  const message = error instanceof StepError ? error.message : (error.stack ?? String(error));
  process.stderr.write(`\nnpm start failed: ${message}\n`);
  process.exit(1);
});
