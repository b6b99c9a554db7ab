/**
 * Reprocesses a dataset through its deployed pipeline, or redrives a failed execution.
 *
 *   npm run pipeline:rerun -- --env <env> --dataset <name> --from YYYY-MM-DD --to YYYY-MM-DD
 *   npm run pipeline:rerun -- --env <env> --dataset <name> --all          # the full rebuild, explicitly
 *   npm run pipeline:rerun -- --redrive <execution-arn>                   # env and dataset from the ARN
 *
 * A rerun starts an execution of the dataset's state machine with `{"reprocess": {"from", "to"}}`
 * (or `{"reprocess": {"all": true}}`) as its input: the run's manifest, from which raw → processed
 * lists the dataset's raw objects of those days itself. Without a range, `--all` or `--redrive` it refuses.
 *
 * `--redrive` processes a failed, timed-out or aborted execution's landing again. Step Functions'
 * RedriveExecution continues at the unsuccessful step: the state the execution stopped in. A
 * pipeline failure the state machine caught (its Catch → alert → PipelineFailed path) stopped in the
 * PipelineFailed Fail state, which a redrive would only enter again; so such an execution's input
 * (the landing, or the reprocess request) is started again as a new execution of the same state
 * machine, `<name>-rerun-<time>`, and the jobs' exactly-once writes make that converge on the same
 * result. An execution that stopped inside a step (timed out, aborted, or an error nothing caught)
 * is redriven: it continues at that step with the same input and execution ARN.
 *
 * The state machine's name comes from the naming helper (what the stack deploys); credentials,
 * and the endpoint where one is set (AWS_ENDPOINT_URL, as for the emulator), come from the
 * environment, like every AWS client.
 */
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { DATASETS } from "../datasets";
import { ConfigError, loadEnvironment, loadEnvironments, type EnvironmentConfig } from "../environments";
import { STEPS } from "../modules/orchestration/pipeline-definition";
import { defined } from "../modules/shared/defined";
import { Naming } from "../modules/shared/naming";
import { runLayout } from "../modules/shared/run-layout";

export type RerunRequest =
  | {
      readonly env: string;
      readonly dataset: string;
      readonly kind: "range";
      readonly from: string;
      readonly to: string;
    }
  | { readonly env: string; readonly dataset: string; readonly kind: "all" }
  | { readonly env?: string; readonly dataset?: string; readonly kind: "redrive"; readonly executionArn: string };

export const USAGE = [
  "usage: npm run pipeline:rerun -- --env <env> --dataset <name> (--from YYYY-MM-DD --to YYYY-MM-DD | --all)",
  "       npm run pipeline:rerun -- [--env <env> --dataset <name>] --redrive <execution-arn>",
  "  --from/--to  reprocess the raw objects of these days (inclusive)",
  "  --all        reprocess the dataset's whole raw history (a full rebuild: every partition is rewritten)",
  "  --redrive    process a failed, timed-out or aborted execution's landing again (redriven, or re-run when its failure was caught)",
].join("\n");

/** A request the command refuses, with why (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(`${message}\n${USAGE}`);
    this.name = "UsageError";
  }
}

/** A real calendar day written YYYY-MM-DD. */
function isDay(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

function modesOf(flags: ReadonlyMap<string, unknown>): number {
  return [flags.has("from") || flags.has("to"), flags.has("all"), flags.has("redrive")].filter(Boolean).length;
}

export function parseRerunArgs(argv: readonly string[]): RerunRequest {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument "${arg}"`);
    const name = arg.slice(2);
    if (!["env", "dataset", "from", "to", "all", "redrive"].includes(name))
      throw new UsageError(`unknown option ${arg}`);
    if (flags.has(name)) throw new UsageError(`${arg} is given twice`);
    if (name === "all") flags.set(name, true);
    else {
      const value = argv[++i];
      if (value === undefined || value.startsWith("--")) throw new UsageError(`${arg} needs a value`);
      flags.set(name, value);
    }
  }
  const env = flags.get("env") as string | undefined;
  const dataset = flags.get("dataset") as string | undefined;
  const from = flags.get("from") as string | undefined;
  const to = flags.get("to") as string | undefined;
  const redrive = flags.get("redrive") as string | undefined;
  if (redrive === undefined) {
    if (env === undefined) throw new UsageError("--env is required");
    if (dataset === undefined) throw new UsageError("--dataset is required");
  }
  const modes = modesOf(flags);
  if (modes === 0) {
    throw new UsageError(
      "nothing to do: give a day range (--from and --to), --all for a full rebuild, or --redrive <execution-arn>; a rerun never picks its own range",
    );
  }
  if (modes > 1) throw new UsageError("give only one of a day range (--from/--to), --all or --redrive");
  if (redrive !== undefined)
    return { ...(env ? { env } : {}), ...(dataset ? { dataset } : {}), kind: "redrive", executionArn: redrive };
  if (env === undefined || dataset === undefined) throw new UsageError("--env and --dataset are required");
  if (flags.has("all")) return { env, dataset, kind: "all" };
  if (from === undefined || to === undefined)
    throw new UsageError("a day range needs both --from and --to (one day: the same date twice)");
  for (const [flag, value] of [
    ["--from", from],
    ["--to", to],
  ] as const) {
    if (!isDay(value)) throw new UsageError(`${flag} must be a day written YYYY-MM-DD (got "${value}")`);
  }
  if (from > to) throw new UsageError(`--from (${from}) is after --to (${to})`);
  return { env, dataset, kind: "range", from, to };
}

/** The execution input of a rerun: the reprocess request the raw → processed job reads from its manifest. */
export function reprocessInput(request: Extract<RerunRequest, { kind: "range" | "all" }>): {
  reprocess: { from: string; to: string } | { all: true };
} {
  return { reprocess: request.kind === "all" ? { all: true } : { from: request.from, to: request.to } };
}

/** The deployed state machine of a dataset's pipeline in an environment (the name the stack gives it). */
export function stateMachineArn(config: EnvironmentConfig, dataset: string): string {
  if (!config.accountId)
    throw new UsageError(`environment ${config.name} has no accountId: the state machine's ARN needs it`);
  const naming = new Naming({
    project: config.project,
    environment: config.name,
    accountId: config.accountId,
    region: config.region,
  });
  return `arn:aws:states:${config.region}:${config.accountId}:stateMachine:${naming.name(dataset, "pipeline")}`;
}

/** An execution name that says what the run is, unique to the second (Step Functions allows 80 characters). */
export function rerunExecutionName(request: Extract<RerunRequest, { kind: "range" | "all" }>, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return request.kind === "all" ? `rerun-all-${stamp}` : `rerun-${request.from}-to-${request.to}-${stamp}`;
}

export interface RerunResult {
  readonly executionArn: string;
  readonly manifest?: string;
  readonly message: string;
}

/** The environment and dataset whose pipeline ran an execution (what its ARN names), checked against any the operator gave. */
export function pipelineOf(
  executionArn: string,
  env?: string,
  dataset?: string,
): { config: EnvironmentConfig; dataset: string } {
  for (const config of loadEnvironments()) {
    if (!config.accountId || (env !== undefined && config.name !== env)) continue;
    for (const d of DATASETS) {
      if (dataset !== undefined && d.name !== dataset) continue;
      const prefix = `${stateMachineArn(config, d.name).replace(":stateMachine:", ":execution:")}:`;
      if (
        executionArn.startsWith(prefix) &&
        executionArn.length > prefix.length &&
        !executionArn.slice(prefix.length).includes(":")
      )
        return { config, dataset: d.name };
    }
  }
  if (env !== undefined && dataset !== undefined) {
    throw new UsageError(
      `--redrive ${executionArn} is not an execution of ${stateMachineArn(loadEnvironment(env), dataset)}`,
    );
  }
  throw new UsageError(
    `--redrive ${executionArn} is not an execution of any dataset's pipeline${env ? ` in ${env}` : ""}`,
  );
}

/** Step Functions' name for a re-run of a failed execution: its own name (shortened to fit 80 characters) and when. */
export function redriveRerunName(executionName: string, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const suffix = `-rerun-${stamp}`;
  return `${executionName.slice(0, 80 - suffix.length)}${suffix}`;
}

export async function rerun(request: RerunRequest, sfn: SFNClient, now = new Date()): Promise<RerunResult> {
  if (request.dataset !== undefined && !DATASETS.some((d) => d.name === request.dataset)) {
    throw new UsageError(`unknown dataset "${request.dataset}" (datasets: ${DATASETS.map((d) => d.name).join(", ")})`);
  }
  const target =
    request.kind === "redrive"
      ? pipelineOf(request.executionArn, request.env, request.dataset)
      : { config: loadEnvironment(request.env), dataset: request.dataset };
  const { config, dataset } = target;
  const machine = stateMachineArn(config, dataset);
  try {
    await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: machine }));
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === "StateMachineDoesNotExist")
      throw new Error(
        `${config.name} has no pipeline for ${dataset}: state machine ${machine} does not exist (is the stack applied, and does the dataset have a pipeline?)`,
      );
    throw error;
  }
  const quarantine = new Naming({
    project: config.project,
    environment: config.name,
    accountId: config.accountId,
    region: config.region,
  }).bucket("quarantine");
  const manifestOf = (executionName: string) =>
    `s3://${quarantine}/${runLayout.manifestKey(`${dataset}/`, executionName)}`;
  if (request.kind === "redrive") return redrive(request.executionArn, machine, sfn, now, manifestOf);
  const name = rerunExecutionName(request, now);
  const started = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: machine, name, input: JSON.stringify(reprocessInput(request)) }),
  );
  const executionArn = defined(started.executionArn, "the started execution's ARN");
  const what =
    request.kind === "all"
      ? "all of its raw history (a full rebuild)"
      : `raw objects of ${request.from} to ${request.to}`;
  return {
    executionArn,
    manifest: manifestOf(name),
    message: `started ${executionArn}: ${dataset} in ${config.name}, reprocessing ${what}`,
  };
}

const UNSUCCESSFUL = ["FAILED", "TIMED_OUT", "ABORTED"];

/** The last segment of an execution ARN: the execution's name. */
function executionNameOf(executionArn: string): string {
  return executionArn.slice(executionArn.lastIndexOf(":") + 1);
}

async function redrive(
  executionArn: string,
  machine: string,
  sfn: SFNClient,
  now: Date,
  manifestOf: (name: string) => string,
): Promise<RerunResult> {
  const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  if (!UNSUCCESSFUL.includes(execution.status ?? "")) {
    throw new UsageError(
      `--redrive ${executionArn} is ${execution.status}: only a failed, timed-out or aborted execution is processed again`,
    );
  }
  // The state it stopped in: the last one entered (newest first; by event id, as a service that ignores reverseOrder answers in order).
  const { events = [] } = await sfn.send(
    new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 100 }),
  );
  const entered = events.filter((e) => e.type?.endsWith("StateEntered")).sort((a, b) => (b.id ?? 0) - (a.id ?? 0));
  const last = entered[0]?.stateEnteredEventDetails;
  if (last?.name === STEPS.failed) {
    // Caught: a redrive would continue at the PipelineFailed Fail state and fail again. Its input, again.
    let step = "a step";
    try {
      step = (JSON.parse(last.input ?? "{}") as { failure?: { step?: string } }).failure?.step ?? step;
    } catch {
      // an input that is not JSON still names no step; the re-run does not need it
    }
    const name = redriveRerunName(execution.name ?? executionNameOf(executionArn), now);
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: machine, name, input: execution.input }),
    );
    const startedArn = defined(started.executionArn, "the started execution's ARN");
    return {
      executionArn: startedArn,
      manifest: manifestOf(name),
      message:
        `${executionArn} failed in ${step}, and the pipeline caught it (alert, then ${STEPS.failed}): a Step Functions redrive would only enter ${STEPS.failed} again. ` +
        `started ${startedArn} with the same input (its landing), which the jobs process again exactly once`,
    };
  }
  await sfn.send(new RedriveExecutionCommand({ executionArn }));
  return {
    executionArn,
    manifest: manifestOf(executionNameOf(executionArn)),
    message: `redriving ${executionArn}: it continues at ${last?.name ?? "its first state"}, where it stopped (${execution.status}), with the same input and manifest`,
  };
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    const request = parseRerunArgs(argv);
    const region =
      request.kind === "redrive"
        ? pipelineOf(request.executionArn, request.env, request.dataset).config.region
        : loadEnvironment(request.env).region;
    const result = await rerun(request, new SFNClient({ region }));
    console.log(result.message);
    if (result.manifest) console.log(`manifest: ${result.manifest}`);
    console.log(`follow it: aws stepfunctions describe-execution --execution-arn ${result.executionArn}`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(error.message);
      return 2;
    }
    console.error(error instanceof ConfigError || error instanceof Error ? error.message : String(error));
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
