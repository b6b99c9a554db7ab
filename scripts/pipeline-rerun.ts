/**
 * Reprocesses a dataset through its deployed pipeline, or redrives a failed execution.
 *
 *   npm run pipeline:rerun -- --env <env> --dataset <name> --from YYYY-MM-DD --to YYYY-MM-DD
 *   npm run pipeline:rerun -- --env <env> --dataset <name> --all          # the full rebuild, explicitly
 *   npm run pipeline:rerun -- --env <env> --dataset <name> --redrive <execution-arn>
 *
 * A rerun starts an execution of the dataset's state machine with `{"reprocess": {"from", "to"}}`
 * (or `{"reprocess": {"all": true}}`) as its input: the run's manifest, from which raw → processed
 * lists the dataset's raw objects of those days itself. A redrive resumes a failed execution from
 * the step that failed, with its own manifest. Without a range, `--all` or `--redrive` it refuses.
 *
 * The state machine's name comes from the naming helper (what the stack deploys); credentials,
 * and the endpoint where one is set (AWS_ENDPOINT_URL, as for the emulator), come from the
 * environment, like every AWS client.
 */
import { DescribeStateMachineCommand, RedriveExecutionCommand, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { DATASETS } from "../datasets";
import { ConfigError, loadEnvironment, type EnvironmentConfig } from "../environments";
import { Naming } from "../modules/shared/naming";
import { runLayout } from "../modules/shared/run-layout";

export type RerunRequest =
  | { readonly env: string; readonly dataset: string; readonly kind: "range"; readonly from: string; readonly to: string }
  | { readonly env: string; readonly dataset: string; readonly kind: "all" }
  | { readonly env: string; readonly dataset: string; readonly kind: "redrive"; readonly executionArn: string };

export const USAGE = [
  "usage: npm run pipeline:rerun -- --env <env> --dataset <name> (--from YYYY-MM-DD --to YYYY-MM-DD | --all | --redrive <execution-arn>)",
  "  --from/--to  reprocess the raw objects of these days (inclusive)",
  "  --all        reprocess the dataset's whole raw history (a full rebuild: every partition is rewritten)",
  "  --redrive    resume a failed execution from the step that failed",
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

export function parseRerunArgs(argv: readonly string[]): RerunRequest {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument "${arg}"`);
    const name = arg.slice(2);
    if (!["env", "dataset", "from", "to", "all", "redrive"].includes(name)) throw new UsageError(`unknown option ${arg}`);
    if (flags.has(name)) throw new UsageError(`${arg} is given twice`);
    if (name === "all") flags.set(name, true);
    else {
      const value = argv[++i];
      if (value === undefined || value.startsWith("--")) throw new UsageError(`${arg} needs a value`);
      flags.set(name, value);
    }
  }
  const env = flags.get("env");
  const dataset = flags.get("dataset");
  if (typeof env !== "string") throw new UsageError("--env is required");
  if (typeof dataset !== "string") throw new UsageError("--dataset is required");
  const from = flags.get("from") as string | undefined;
  const to = flags.get("to") as string | undefined;
  const redrive = flags.get("redrive") as string | undefined;
  const modes = [from !== undefined || to !== undefined, flags.has("all"), redrive !== undefined].filter(Boolean).length;
  if (modes === 0) {
    throw new UsageError("nothing to do: give a day range (--from and --to), --all for a full rebuild, or --redrive <execution-arn>; a rerun never picks its own range");
  }
  if (modes > 1) throw new UsageError("give only one of a day range (--from/--to), --all or --redrive");
  if (redrive !== undefined) return { env, dataset, kind: "redrive", executionArn: redrive };
  if (flags.has("all")) return { env, dataset, kind: "all" };
  if (from === undefined || to === undefined) throw new UsageError("a day range needs both --from and --to (one day: the same date twice)");
  for (const [flag, value] of [["--from", from], ["--to", to]] as const) {
    if (!isDay(value)) throw new UsageError(`${flag} must be a day written YYYY-MM-DD (got "${value}")`);
  }
  if (from > to) throw new UsageError(`--from (${from}) is after --to (${to})`);
  return { env, dataset, kind: "range", from, to };
}

/** The execution input of a rerun: the reprocess request the raw → processed job reads from its manifest. */
export function reprocessInput(request: Extract<RerunRequest, { kind: "range" | "all" }>): { reprocess: { from: string; to: string } | { all: true } } {
  return { reprocess: request.kind === "all" ? { all: true } : { from: request.from, to: request.to } };
}

/** The deployed state machine of a dataset's pipeline in an environment (the name the stack gives it). */
export function stateMachineArn(config: EnvironmentConfig, dataset: string): string {
  if (!config.accountId) throw new UsageError(`environment ${config.name} has no accountId: the state machine's ARN needs it`);
  const naming = new Naming({ project: config.project, environment: config.name, accountId: config.accountId, region: config.region });
  return `arn:aws:states:${config.region}:${config.accountId}:stateMachine:${naming.name(dataset, "pipeline")}`;
}

/** An execution name that says what the run is, unique to the second (Step Functions allows 80 characters). */
export function rerunExecutionName(request: Extract<RerunRequest, { kind: "range" | "all" }>, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return request.kind === "all" ? `rerun-all-${stamp}` : `rerun-${request.from}-to-${request.to}-${stamp}`;
}

export interface RerunResult {
  readonly executionArn: string;
  readonly manifest?: string;
  readonly message: string;
}

export async function rerun(request: RerunRequest, sfn: SFNClient, now = new Date()): Promise<RerunResult> {
  if (!DATASETS.some((d) => d.name === request.dataset)) {
    throw new UsageError(`unknown dataset "${request.dataset}" (datasets: ${DATASETS.map((d) => d.name).join(", ")})`);
  }
  const config = loadEnvironment(request.env);
  const machine = stateMachineArn(config, request.dataset);
  try {
    await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: machine }));
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === "StateMachineDoesNotExist") throw new Error(`${config.name} has no pipeline for ${request.dataset}: state machine ${machine} does not exist (is the stack applied, and does the dataset have a pipeline?)`);
    throw error;
  }
  if (request.kind === "redrive") {
    const prefix = `${machine.replace(":stateMachine:", ":execution:")}:`;
    if (!request.executionArn.startsWith(prefix) || request.executionArn.length === prefix.length) {
      throw new UsageError(`--redrive ${request.executionArn} is not an execution of ${machine}`);
    }
    await sfn.send(new RedriveExecutionCommand({ executionArn: request.executionArn }));
    return { executionArn: request.executionArn, message: `redriving ${request.executionArn} from the step that failed (it reads its own manifest again)` };
  }
  const name = rerunExecutionName(request, now);
  const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn: machine, name, input: JSON.stringify(reprocessInput(request)) }));
  const quarantine = new Naming({ project: config.project, environment: config.name, accountId: config.accountId, region: config.region }).bucket("quarantine");
  const what = request.kind === "all" ? "all of its raw history (a full rebuild)" : `raw objects of ${request.from} to ${request.to}`;
  return {
    executionArn: executionArn!,
    manifest: `s3://${quarantine}/${runLayout.manifestKey(`${request.dataset}/`, name)}`,
    message: `started ${executionArn}: ${request.dataset} in ${config.name}, reprocessing ${what}`,
  };
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    const request = parseRerunArgs(argv);
    const config = loadEnvironment(request.env);
    const result = await rerun(request, new SFNClient({ region: config.region }));
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
