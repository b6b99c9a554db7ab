/**
 * The local cloud: the emulator, PostgreSQL (the RDS source) and the `local` stack applied to them,
 * for a developer to work in (`npm run local:up` / `local:status` / `local:down`) and for the
 * integration tests to share (`__tests__/integration/global-setup.ts`).
 *
 *   npm run local:up       # starts everything detached, applies `local`, prints the environment
 *   source .emulator/local-cloud.env
 *   npx cdktf diff local   # the same state file local:up applied (cdktf.out/stacks/local)
 *   npm run local:down
 *
 * One state: `local`'s backend is a local file in its stack directory
 * (cdktf.out/stacks/local/terraform.local.tfstate); local:up applies that directory in place, and
 * the cdktf CLI plans and applies the same directory. cdktf synth rewrites only cdk.tf.json there.
 *
 * The emulator keeps its resources in memory: they live as long as it runs. So a fresh emulator
 * starts with a fresh state file (the old one would describe resources that no longer exist), and
 * local:down deletes it. PostgreSQL's data directory (.emulator/postgres) outlives both.
 *
 * Ports are stable so the synthesized endpoints are known: the emulator on
 * DATAPLAT_LOCAL_EMULATOR_PORT (4566), PostgreSQL on DATAPLAT_LOCAL_RDS_PORT (5432); a port that is
 * taken fails local:up with the variable to change. Tests pass free ports instead.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { loadEnvironment } from "../../environments";
import {
  LOCAL_EMULATOR_DEFAULT_PORT,
  LOCAL_EMULATOR_PORT_VARIABLE,
  LOCAL_RDS_PORT_VARIABLE,
  localPort,
} from "../../environments/local";
import { Emulator, processAlive, requireFreePort, type EmulatorConnection } from "../emulator";
import { APPLY, type EmulatedStack } from "../lib/emulated";
import { ROOT, requireTerraform, synth, terraform, terraformEnv, type TerraformResult } from "../lib/terraform";
import { startPostgres, stopPostgres, storeCredentials, type PostgresServer } from "./postgres";

/** PostgreSQL's own port: `local`'s JDBC URL names it when DATAPLAT_LOCAL_RDS_PORT is unset. */
const RDS_DEFAULT_PORT = 5432;
/** The AWS CLI from the project's requirements (requirements/dev.in: awscli). */
export const AWS_CLI = join(ROOT, ".venv", "bin", "aws");

export interface LocalCloudOptions {
  /** @default $DATAPLAT_LOCAL_EMULATOR_PORT, else 4566 */
  readonly emulatorPort?: number;
  /** @default $DATAPLAT_LOCAL_RDS_PORT, else 5432 */
  readonly rdsPort?: number;
  /** TLS material, logs and the state file. @default <repo>/.emulator */
  readonly stateDir?: string;
  /** Where `local` is synthesized and applied. @default <repo>/cdktf.out, the cdktf CLI's */
  readonly synthDir?: string;
  /** @default <stateDir>/postgres */
  readonly postgresDir?: string;
  /** Outlive this process (local:up). @default false: everything stops with this process */
  readonly detached?: boolean;
  /** IAM for the components' sessions (EmulatorOptions.iam). @default $EMULATOR_IAM, else "enforce", as `npm start` runs */
  readonly iam?: "enforce" | "observe" | "off";
  /** Progress lines. @default silent */
  readonly log?: (line: string) => void;
}

/** What the state file records: enough to reach the running cloud from any process. */
export interface LocalCloudState {
  readonly emulator: EmulatorConnection;
  readonly postgres: {
    readonly dataDir: string;
    readonly port: number;
    readonly jdbcUrl: string;
    readonly user: string;
  };
  readonly synthDir: string;
  readonly stackDir: string;
  readonly stateFile: string;
  /** Everything a client needs: credentials, endpoint, CA bundle, region, terraform's CLI config, the ports synth reads. */
  readonly env: Record<string, string>;
  readonly resources: number;
  readonly startedAt: string;
  /** How the emulator treats the components' requests: "enforce" denies what their roles do not allow. */
  readonly iam: "enforce" | "observe" | "off";
}

export interface LocalCloud extends LocalCloudState {
  /** The emulator (a connection when it runs detached). */
  readonly client: Emulator;
  /** The local stack as the emulated helpers take it (scripts/lib/emulated.ts). */
  readonly stack: EmulatedStack;
  stop(): Promise<void>;
}

/** The state file of a local cloud: <stateDir>/local-cloud.json. */
export function stateFileOf(stateDir = join(ROOT, ".emulator")): string {
  return join(stateDir, "local-cloud.json");
}

/** The running local cloud recorded in `stateDir`, or undefined when none runs (a stale file is ignored). */
export function runningLocalCloud(stateDir = join(ROOT, ".emulator")): LocalCloudState | undefined {
  const file = stateFileOf(stateDir);
  if (!existsSync(file)) return undefined;
  const state = JSON.parse(readFileSync(file, "utf8")) as LocalCloudState;
  return processAlive(state.emulator.pid) ? state : undefined;
}

/** EMULATOR_IAM as the launcher reads it; anything else is refused before the emulator starts. */
function iamMode(raw: string | undefined): "enforce" | "observe" | "off" {
  const mode = raw ?? "enforce";
  if (mode !== "enforce" && mode !== "observe" && mode !== "off")
    throw new Error(`EMULATOR_IAM must be enforce, observe or off (got ${JSON.stringify(raw)})`);
  return mode;
}

/** `local`'s stack directory of a synth output, applied in place (no working copy). */
function localStack(synthDir: string, env: Record<string, string>): EmulatedStack {
  return { environment: "local", dir: join(synthDir, "stacks", "local"), env };
}

/** The terraform state file `local`'s backend names, in its stack directory. */
function backendStateFile(stackDir: string): string {
  const backend = JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")).terraform?.backend?.local?.path;
  if (!backend)
    throw new Error(`${stackDir}/cdk.tf.json has no local backend: \`local\` must keep its state in a local file`);
  return join(stackDir, backend);
}

function checkOk(result: TerraformResult, what: string): void {
  if (!result.ok)
    throw new Error(`${what}:\n${(result.stderr || result.stdout).trim().split("\n").slice(-25).join("\n")}`);
}

/**
 * Starts PostgreSQL and the emulator, synthesizes `local` for their ports, applies it in its stack
 * directory with a fresh state, and stores the database's credentials in every deployed JDBC
 * connection's secret.
 */
export async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const log = options.log ?? (() => undefined);
  requireTerraform();
  const stateDir = options.stateDir ?? join(ROOT, ".emulator");
  const synthDir = options.synthDir ?? join(ROOT, "cdktf.out");
  const emulatorPort =
    options.emulatorPort ?? localPort(LOCAL_EMULATOR_PORT_VARIABLE, LOCAL_EMULATOR_DEFAULT_PORT, "emulator endpoint");
  const rdsPort = options.rdsPort ?? localPort(LOCAL_RDS_PORT_VARIABLE, RDS_DEFAULT_PORT, "ingestion.rds.jdbcUrl");
  mkdirSync(stateDir, { recursive: true });
  await requireFreePort(emulatorPort, LOCAL_EMULATOR_PORT_VARIABLE);
  await requireFreePort(rdsPort, LOCAL_RDS_PORT_VARIABLE);

  const config = loadEnvironment("local");
  const postgresDir = options.postgresDir ?? join(stateDir, "postgres");
  let postgres: PostgresServer | undefined;
  let emulator: Emulator | undefined;
  try {
    log(`PostgreSQL on 127.0.0.1:${rdsPort} (${relative(ROOT, postgresDir) || postgresDir})`);
    postgres = await startPostgres({ dataDir: postgresDir, port: rdsPort });
    log(`emulator on https://127.0.0.1:${emulatorPort}`);
    const iam = options.iam ?? iamMode(process.env.EMULATOR_IAM);
    emulator = await Emulator.start({
      port: emulatorPort,
      stateDir,
      detached: options.detached,
      executeStateMachines: true,
      startTimeoutMs: 120_000,
      iam,
    });

    const ports = { [LOCAL_EMULATOR_PORT_VARIABLE]: String(emulatorPort), [LOCAL_RDS_PORT_VARIABLE]: String(rdsPort) };
    // No TF_VAR_emulator_endpoint: `local`'s synthesized default names this port, as the cdktf CLI will use it.
    const { TF_VAR_emulator_endpoint: _synthesized, ...clientEnv } = emulator.env(
      config.accountId ?? undefined,
      config.region,
    );
    const env: Record<string, string> = {
      ...clientEnv,
      ...ports,
      TF_CLI_CONFIG_FILE: terraformEnv().cliConfigFile,
      CHECKPOINT_DISABLE: "1",
    };
    log(`synthesizing into ${relative(ROOT, synthDir) || synthDir}`);
    synth(synthDir, ports);
    const stack = localStack(synthDir, env);
    const stateFile = backendStateFile(stack.dir);
    // The emulator starts empty: a state from an earlier run would describe resources that are gone.
    for (const file of [stateFile, `${stateFile}.backup`, join(stack.dir, ".terraform.tfstate.lock.info")])
      rmSync(file, { force: true });
    log("terraform init + apply (local)");
    checkOk(terraform(["init", "-input=false"], stack.dir, env), "terraform init (local) failed");
    checkOk(terraform(APPLY, stack.dir, env), "terraform apply (local) failed");
    const resources = (JSON.parse(readFileSync(stateFile, "utf8")).resources as { mode: string }[]).filter(
      (r) => r.mode === "managed",
    ).length;

    for (const secretId of jdbcSecrets(stack)) {
      log(`PostgreSQL credentials → ${secretId}`);
      await storeCredentials(postgres, {
        endpoint: emulator.endpoint,
        region: config.region,
        secretId,
        credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
        caBundle: emulator.caBundle,
      });
    }

    const state: LocalCloudState = {
      emulator: emulator.connection(),
      postgres: { dataDir: postgresDir, port: postgres.port, jdbcUrl: postgres.jdbcUrl, user: postgres.user },
      synthDir,
      stackDir: stack.dir,
      stateFile,
      env,
      resources,
      startedAt: new Date().toISOString(),
      iam,
    };
    writeFileSync(stateFileOf(stateDir), `${JSON.stringify(state, null, 2)}\n`);
    writeFileSync(join(stateDir, "local-cloud.env"), envFile(env));
    const client = emulator;
    const server = postgres;
    return {
      ...state,
      client,
      stack,
      stop: async () => void (await stopLocalCloud(stateDir, { emulator: client, postgres: server })),
    };
  } catch (error) {
    await emulator?.stop();
    await postgres?.stop();
    throw error;
  }
}

/** Secrets the deployed JDBC Glue connections read their user and password from (`SECRET_ID`). */
function jdbcSecrets(stack: EmulatedStack): string[] {
  const shown = terraform(["show", "-json"], stack.dir, stack.env);
  checkOk(shown, "terraform show (local) failed");
  const resources = (JSON.parse(shown.stdout).values?.root_module?.resources ?? []) as {
    type: string;
    values: Record<string, unknown>;
  }[];
  return resources
    .filter((r) => r.type === "aws_glue_connection" && r.values.connection_type === "JDBC")
    .map((r) => (r.values.connection_properties as Record<string, string> | undefined)?.SECRET_ID)
    .filter((id): id is string => !!id);
}

/** Stops what a local cloud started and deletes its terraform state (its resources went with the emulator). */
export async function stopLocalCloud(
  stateDir = join(ROOT, ".emulator"),
  running?: { emulator?: Emulator; postgres?: PostgresServer },
): Promise<boolean> {
  const file = stateFileOf(stateDir);
  const state = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as LocalCloudState) : undefined;
  if (!state && !running) return false;
  await (running?.emulator ?? (state ? Emulator.connect(state.emulator) : undefined))?.stop();
  if (running?.postgres) await running.postgres.stop();
  else if (state) await stopPostgres({ dataDir: state.postgres.dataDir });
  if (state) for (const f of [state.stateFile, `${state.stateFile}.backup`]) rmSync(f, { force: true });
  rmSync(file, { force: true });
  rmSync(join(stateDir, "local-cloud.env"), { force: true });
  return true;
}

/** `export K='V'` lines for a shell. */
export function envFile(env: Record<string, string>): string {
  return `${Object.entries(env)
    .map(([k, v]) => `export ${k}='${v.replace(/'/g, "'\\''")}'`)
    .join("\n")}\n`;
}

function describe(state: LocalCloudState, stateDir: string): string {
  return [
    `local cloud up since ${state.startedAt}: ${state.resources} resources of \`local\` applied`,
    `  emulator    ${state.emulator.endpoint} (pid ${state.emulator.pid}; log ${relative(ROOT, state.emulator.logFile)})`,
    `  PostgreSQL  ${state.postgres.jdbcUrl} (role ${state.postgres.user}; its password is in the deployed connection's secret)`,
    `  state       ${relative(ROOT, state.stateFile)} (shared with \`npx cdktf diff|deploy local\`; gone with local:down)`,
    "",
    `Environment (also in ${relative(ROOT, join(stateDir, "local-cloud.env"))}: \`source\` it):`,
    envFile(state.env).trimEnd(),
    "",
    "Then, from the repository root:",
    "  npx cdktf diff local",
    "  npx cdktf deploy local --auto-approve",
    `  ${relative(ROOT, AWS_CLI)} s3 ls          # the AWS CLI from requirements/dev.in`,
    "  npm run local:down",
  ].join("\n");
}

if (require.main === module) {
  // Node 20 is the project runtime; the SDK's notice about its future Node 22 floor is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const command = process.argv[2];
  const stateDir = join(ROOT, ".emulator");
  const main = async () => {
    if (command === "up") {
      const running = runningLocalCloud(stateDir);
      if (running) {
        console.log(`already up.\n${describe(running, stateDir)}`);
        return;
      }
      // A cloud that died (killed, reboot) leaves its server and state file behind: clear them first.
      await stopLocalCloud(stateDir);
      if (!existsSync(AWS_CLI))
        console.error(`note: ${AWS_CLI} is missing: run \`npm run setup:py\` for the project's AWS CLI`);
      const started = Date.now();
      const cloud = await startLocalCloud({ detached: true, log: (line) => console.error(`· ${line}`) });
      console.error(`· up in ${Math.round((Date.now() - started) / 1000)} s`);
      console.log(describe(cloud, stateDir));
    } else if (command === "status") {
      const running = runningLocalCloud(stateDir);
      console.log(running ? describe(running, stateDir) : "local cloud is down (npm run local:up starts it)");
      if (!running) process.exitCode = 3;
    } else if (command === "env") {
      const running = runningLocalCloud(stateDir);
      if (!running) throw new Error("local cloud is down (npm run local:up starts it)");
      process.stdout.write(envFile(running.env));
    } else if (command === "down") {
      console.log((await stopLocalCloud(stateDir)) ? "local cloud stopped" : "local cloud was not up");
    } else throw new Error("usage: tsx scripts/local/cloud.ts up | status | env | down");
  };
  main().catch((e: Error) => {
    console.error(e.message);
    process.exit(1);
  });
}

/** Runs the project's AWS CLI against a local cloud: `aws(cloud.env, ["s3", "ls"])`. */
export function aws(
  env: Record<string, string>,
  args: readonly string[],
): { status: number | null; stdout: string; stderr: string } {
  if (!existsSync(AWS_CLI))
    throw new Error(`${AWS_CLI} is missing: run \`npm run setup:py\` (awscli is in requirements/dev.in)`);
  const result = spawnSync(AWS_CLI, [...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, AWS_PAGER: "" },
    encoding: "utf8",
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
