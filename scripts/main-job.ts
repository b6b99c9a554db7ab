/**
 * The README's main command (`npm start`): synth every environment, deploy `local` to the
 * project's emulator, plan dev/staging/prod, then play the outside world for every dataset in
 * DATASETS and let the deployed platform do the rest:
 *
 *   1. sample records from the contract itself (good rows, and a bad row per rule it can break);
 *   2. fed to the dataset's source: a PostgreSQL table (rds), a DynamoDB table (dynamodb), records
 *      on the deployed Kinesis stream (kinesis), or pages of the sample API (api);
 *   3. the deployed schedules fired now (extracts: Glue StartJobRun; API functions: Lambda), as
 *      Scheduler would fire them; Firehose delivers the stream by itself;
 *   4. waits for every pipeline execution the landings start (through the deployed Pipe), the Glue
 *      runs and the crawlers;
 *   5. queries every consumer table, and runs every deployed named query, through the Athena API.
 *
 * The main job only writes to sources, fires schedules and queries; every record reaches raw,
 * processed and consumer through deployed resources (the report lists each AWS call it made).
 * It fails (exit 1) when a dataset ends without records in a zone, an execution did not succeed, or
 * records do not reconcile. Every run starts from an empty emulator; the emulator, PostgreSQL and the
 * sample API are stopped in every case.
 *
 *   npm start                      # everything
 *   npm start -- --skip-plans      # leave out the dev/staging/prod plans
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  GetNamedQueryCommand,
  StartQueryExecutionCommand,
  AthenaClient,
} from "@aws-sdk/client-athena";
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DynamoDBClient,
  UpdateContinuousBackupsCommand,
  type AttributeValue,
} from "@aws-sdk/client-dynamodb";
import { GetCrawlerCommand, GetJobRunsCommand, GlueClient, type JobRun } from "@aws-sdk/client-glue";
import { KinesisClient, PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  type HistoryEvent,
} from "@aws-sdk/client-sfn";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { DATASETS, PartitionedDataset, type Dataset } from "../datasets";
import { loadEnvironment, loadEnvironments, type EnvironmentConfig } from "../environments";
import { LOCAL_API_PORT_VARIABLE, LOCAL_RDS_PORT_VARIABLE } from "../environments/local";
import { defined } from "../modules/shared/defined";
import { runLayout } from "../modules/shared/run-layout";
import { Emulator, type IamDecisionSummary, type IamPhaseCounts } from "./emulator";
import * as emulated from "./lib/emulated";
import { ROOT, requireTerraform } from "./lib/terraform";
import { freePort, seedTable, startPostgres, stopPostgres, type PostgresServer, type Row } from "./local/postgres";
import { Progress, StepError } from "./local/progress";
import { RecordsApi, SampleApi } from "./local/sample-api";
import { sampleSet, type SampleSet } from "./local/sample-data";

const WORK = join(ROOT, ".emulator", "e2e");
/** How long the deployed chain may take to settle before the run fails (a slow shared machine included). */
const SETTLE_TIMEOUT_MS = 30 * 60_000;
/** No new execution for this long, with every one ended, means the landings are all processed. */
const QUIET_MS = 12_000;

/** One AWS API call the main job made (service and command; S3 calls with their bucket). */
export interface AwsCall {
  readonly service: string;
  readonly command: string;
  readonly bucket?: string;
}

export interface DatasetReport {
  source: string;
  fed: { good: number; bad: number; badReasons: string[] };
  executions: {
    name: string;
    arn: string;
    status: string;
    seconds: number;
    steps: string[];
    failedStep?: string;
    error?: string;
    cause?: string;
    redrive?: string;
  }[];
  glueRuns: { job: string; id: string; state: string; seconds: number; error?: string }[];
  records: {
    raw: number;
    processed: number;
    quarantined: number;
    quarantinedAtIngest: number;
    setAsideObjects: number;
    consumer: number;
  };
  quarantineByReason: Record<string, number>;
  consumer: { table: string; queryId: string; bytesScanned: number; rows: number; reconciled: boolean; detail: string };
  namedQuery?: { name: string; queryId: string; bytesScanned: number; rows: number; state: string };
  problems: string[];
}

export interface MainJobReport {
  deployed: number;
  plans: string[];
  steps: { title: string; seconds: number }[];
  datasets: Record<string, DatasetReport>;
  calls: AwsCall[];
  processes: string[];
  /** The emulator's IAM decisions while the data moved (the "data" phase of its decision log). */
  iam: {
    mode: string;
    counts: IamPhaseCounts;
    denials: IamDecisionSummary["denials"];
    roles: number;
    mainJobCalls: number;
    accountSigned: Record<string, number>;
    /** Per role ARN, how often each grant ("<action> <policy>/<sid>") allowed a request: the unused-access report's input. */
    exercised: IamDecisionSummary["exercised"];
  };
  ok: boolean;
}

/** The part of Smithy's handler context the recording step reads. */
type CallContext = { readonly clientName?: string; readonly commandName?: string };

/**
 * An initialize step for any client: generic in the client's input and output types, so it fits
 * each client's own middleware stack.
 */
type AnyClientStep = <I extends object, O>(
  next: (args: { input: I }) => Promise<O>,
  context: CallContext,
) => (args: { input: I }) => Promise<O>;

/** What `Clients.make` needs of an SDK client: adding an initialize step to its middleware stack. */
interface RecordableClient {
  readonly middlewareStack: { add(step: AnyClientStep, options: { step: "initialize"; name: string }): void };
}

/** The configuration every client gets (plus each client's extra). */
interface ClientOptions {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly requestHandler: NodeHttpHandler;
}

/** Every AWS client the main job uses comes from here: one place that records each call it makes. */
class Clients {
  readonly calls: AwsCall[] = [];
  constructor(
    private readonly emulator: Emulator,
    private readonly config: EnvironmentConfig,
  ) {}

  make<C extends RecordableClient>(Client: new (options: ClientOptions) => C, extra: object = {}): C {
    const client = new Client({
      endpoint: this.emulator.endpoint,
      region: this.config.region,
      credentials: {
        accessKeyId: this.emulator.env(this.config.accountId).AWS_ACCESS_KEY_ID,
        secretAccessKey: "emulator",
      },
      // HTTP/1.1 with the emulator's CA for every client (Kinesis would default to HTTP/2, which takes no agent).
      requestHandler: new NodeHttpHandler({ httpsAgent: this.emulator.httpsAgent() }),
      ...extra,
    });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input: object | undefined = args.input; // as the SDK passes it: a command made without input has none
        const bucket = input && "Bucket" in input ? input.Bucket : undefined;
        this.calls.push({
          service: (context.clientName ?? "").replace(/Client$/, ""),
          command: (context.commandName ?? "").replace(/Command$/, ""),
          ...(typeof bucket === "string" && bucket ? { bucket } : {}),
        });
        return next(args);
      },
      { step: "initialize", name: "recordMainJobCall" },
    );
    return client;
  }
}

/** Child processes the main job starts (the report lists them: terraform and cdktf, never a job). */
const processes: string[] = [];

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  processes.push([command.replace(`${ROOT}/`, ""), args[0] ?? ""].join(" "));
  const result = spawnSync(command, args, {
    cwd: ROOT,
    env,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim().split("\n").slice(-25).join("\n");
    throw new Error(`${command} ${args.join(" ")} exited ${result.status}:\n${output}`);
  }
  return result.stdout;
}

function checkOk(result: { ok: boolean; stdout: string; stderr: string }, what: string): void {
  processes.push("terraform");
  if (!result.ok)
    throw new Error(`${what}:\n${(result.stderr || result.stdout).trim().split("\n").slice(-25).join("\n")}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type StateResource = {
  type: string;
  name: string;
  /** The attributes read here (of schedules and Glue connections). */
  instances: {
    index_key?: string | number;
    attributes: { arn: string; name: string; connection_properties?: Record<string, string> };
  }[];
};

function stateOf(stack: emulated.EmulatedStack): StateResource[] {
  const local =
    JSON.parse(readFileSync(join(stack.dir, "cdk.tf.json"), "utf8")).terraform?.backend?.local?.path ??
    "terraform.tfstate";
  return (
    JSON.parse(readFileSync(join(stack.dir, local), "utf8")) as { resources: (StateResource & { mode: string })[] }
  ).resources.filter((r) => r.mode === "managed");
}

async function main(): Promise<void> {
  // Node 20 is this project's runtime; the SDK's notice about its future Node 22 floor is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const skipPlans = process.argv.includes("--skip-plans");
  const progress = new Progress(skipPlans ? 10 : 11);
  mkdirSync(WORK, { recursive: true });
  requireTerraform();
  const kinds = new Set(DATASETS.map((d) => d.source.kind));

  let pg: PostgresServer | undefined;
  let api: SampleApi | undefined;
  let emulator: Emulator | undefined;
  let planning: Promise<number> | undefined;
  const apiSources = new Map<string, RecordsApi>();
  try {
    // The local services listen first: `local` synthesizes their ports into the JDBC and API URLs.
    await progress.run(
      "Starting the outside world: PostgreSQL (RDS sources) and the sample API (API sources)",
      async () => {
        if (kinds.has("rds")) {
          // Every run starts from an empty server, as from an empty emulator (a run killed before its
          // cleanup leaves its server running: stop that first).
          await stopPostgres({ dataDir: join(WORK, "postgres") });
          rmSync(join(WORK, "postgres"), { recursive: true, force: true });
          pg = await startPostgres({ dataDir: join(WORK, "postgres") });
          process.env[LOCAL_RDS_PORT_VARIABLE] = String(pg.port);
        }
        for (const contract of DATASETS) {
          if (contract.source.kind !== "api") continue;
          const incremental = contract.source.incremental;
          const parameter = incremental.kind === "since" ? incremental.parameter : "_unused_since";
          apiSources.set(
            new URL(contract.source.path, "http://sample").pathname,
            new RecordsApi({
              parameter,
              versionColumn: contract.versionColumn ?? contract.eventTimeColumn,
              pageSize: 100,
            }),
          );
        }
        if (apiSources.size) {
          const port = process.env[LOCAL_API_PORT_VARIABLE]
            ? Number(process.env[LOCAL_API_PORT_VARIABLE])
            : await freePort();
          api = await SampleApi.start(
            {},
            Object.fromEntries([...apiSources].map(([path, source]) => [path, source.route()])),
            port,
          );
          process.env[LOCAL_API_PORT_VARIABLE] = String(port);
        }
      },
      () =>
        [pg && `PostgreSQL on ${pg.port}`, api && `sample API on ${api.origin}`].filter(Boolean).join(", ") ||
        "no RDS or API source",
    );

    await progress.run(
      "Synthesizing every environment (cdktf synth)",
      () =>
        run(join(ROOT, "node_modules", ".bin", "cdktf"), ["synth"], {
          ...process.env,
          CHECKPOINT_DISABLE: "1",
          CI: "1",
        }),
      () =>
        `stacks: ${loadEnvironments()
          .map((e) => e.name)
          .join(", ")} in cdktf.out/stacks`,
    );

    // Every component calls AWS with its own deployed role, and the emulator denies what the role does not allow.
    const iamMode = process.env.EMULATOR_IAM ?? "enforce";
    if (iamMode !== "enforce" && iamMode !== "observe")
      throw new Error(`EMULATOR_IAM must be enforce or observe for the main job (got ${JSON.stringify(iamMode)})`);
    const started = await progress.run(
      `Starting the emulator (moto over TLS, state machines executed, IAM: ${iamMode})`,
      () => Emulator.start({ executeStateMachines: true, startTimeoutMs: 180_000, iam: iamMode }), // a busy machine can take minutes to import moto
      (e) => e.endpoint,
    );
    emulator = started;
    const synthDir = join(ROOT, "cdktf.out");
    const local = loadEnvironment("local");
    const stack = emulated.prepareStack(synthDir, local, emulator);
    checkOk(emulated.init(stack), "terraform init failed");
    // dev, staging and prod are planned one after another while `local` applies: most of an apply
    // against the emulator is the provider's propagation waits, which leave the CPU to the plans.
    const plans: string[] = [];
    const planStarted = Date.now();
    planning = skipPlans
      ? undefined
      : (async () => {
          for (const env of loadEnvironments().filter((e) => e.tier !== "local")) {
            const planned = emulated.prepareStack(synthDir, env, started);
            const result = await emulated.initAndPlanAsync(planned);
            processes.push("terraform");
            checkOk(result.init, `terraform init (${env.name}) failed`);
            const plan = defined(result.plan, `the plan of ${env.name}`);
            if (plan.status !== 0 && plan.status !== 2) checkOk(plan, `terraform plan (${env.name}) failed`);
            plans.push(`${env.name}: ${emulated.planLine(plan)}`);
          }
          return (Date.now() - planStarted) / 1000;
        })();
    planning?.catch(() => undefined); // awaited (and its error reported) in its own step below
    const deployed = await progress.run(
      `Applying the local stack (terraform apply)${planning ? ", planning dev, staging and prod alongside" : ""}`,
      async () => {
        const applied = await emulated.applyAsync(stack);
        writeFileSync(join(WORK, "apply.log"), `${applied.stdout}${applied.stderr}`); // each resource's "Creation complete after Ns"
        checkOk(applied, "terraform apply failed");
        return emulated.stateResources(stack).length;
      },
      (n) => `${n} resources`,
    );
    const pending = planning;
    if (pending) {
      await progress.run(
        "Planning dev, staging and prod against the emulator (each as its own account; started with the apply)",
        () => pending,
        (seconds) =>
          `${plans.map((line) => line.replace(/ to add, 0 to change, 0 to destroy\./, " to add")).join("; ")}; ${seconds.toFixed(1)} s in all`,
      );
    }

    const outputs = Object.fromEntries(
      Object.entries(JSON.parse(emulated.terraformOutputJson(stack)) as Record<string, { value: unknown }>).map(
        ([k, v]) => [k, v.value],
      ),
    ) as StackOutputs;
    writeFileSync(join(WORK, "outputs.json"), `${JSON.stringify(outputs, null, 2)}\n`);
    const state = stateOf(stack);
    const clients = new Clients(emulator, local);
    const aws = {
      s3: clients.make(S3Client, { forcePathStyle: true }),
      secrets: clients.make(SecretsManagerClient),
      ddb: clients.make(DynamoDBClient),
      kinesis: clients.make(KinesisClient),
      glue: clients.make(GlueClient),
      sfn: clients.make(SFNClient),
      athena: clients.make(AthenaClient),
    };

    const token = randomBytes(18).toString("base64url");
    await progress.run(
      "Operator setup after the deploy: the sources' credentials into their deployed secrets",
      async () => {
        const stored: string[] = [];
        for (const connection of state.filter((r) => r.type === "aws_glue_connection")) {
          for (const instance of connection.instances) {
            const secretId = instance.attributes.connection_properties?.SECRET_ID;
            if (!secretId || !pg) continue;
            await aws.secrets.send(
              new PutSecretValueCommand({
                SecretId: secretId,
                SecretString: JSON.stringify({ username: pg.user, password: pg.password }),
              }),
            );
            stored.push(secretId);
          }
        }
        if (apiSources.size) {
          await aws.secrets.send(
            new PutSecretValueCommand({
              SecretId: outputs.ingestion_api_credentials_secret_arn,
              SecretString: JSON.stringify({ token }),
            }),
          );
          stored.push("API token");
        }
        return stored;
      },
      (s) => `${s.length} secret(s)`,
    );

    // Executions and runs from here on are this run's (a stream's records start landing as soon as they are put).
    const since = new Date(Date.now() - 1000);
    await emulator.iamPhase("data");
    const callsBeforeData = clients.calls.length;
    const samples = new Map<string, SampleSet>();
    await progress.run(
      "Feeding every source with records made from its contract (good rows and a bad row per rule)",
      async () => {
        for (const contract of DATASETS) {
          // One day of records: fewer partitions, fewer raw objects, the same rules exercised.
          const set = sampleSet(contract, local.partitioning, { days: 1 });
          samples.set(contract.name, set);
          await feed(contract, [...set.good, ...set.bad.map((b) => b.row)], { pg, apiSources, aws, outputs });
        }
      },
      () => [...samples].map(([name, s]) => `${name} ${s.good.length}+${s.bad.length}`).join(", "),
    );

    const fired = await progress.run(
      "Firing the deployed schedules now, as EventBridge Scheduler would (extracts and API functions)",
      async () => {
        const answers: { name: string; status: string; target: string; jobRunId?: string }[] = [];
        for (const schedule of state.filter((r) => r.type === "aws_scheduler_schedule")) {
          for (const instance of schedule.instances) {
            const answer = JSON.parse(
              await emulatorPost(started, "/_emulator/scheduler/fire", { ScheduleArn: instance.attributes.arn }),
            );
            processes.push("scheduler fire");
            if (answer.Status !== "INVOKED")
              throw new Error(
                `schedule ${instance.attributes.name}: ${answer.Status}: ${answer.Error ?? answer.Reason}`,
              );
            answers.push({
              name: instance.attributes.name,
              status: answer.Status,
              target: answer.Target,
              jobRunId: answer.Response?.JobRunId,
            });
          }
        }
        return answers;
      },
      (a) => `${a.length} schedules fired`,
    );

    const settled = await progress.run(
      "Waiting for the deployed chain: extract runs, landings → Pipe → pipeline executions, crawlers",
      () => settle(aws, outputs, since),
      (s) => `${s.executions} executions ended, ${s.extractRuns} extract runs, crawlers idle`,
    );

    const datasets: Record<string, DatasetReport> = {};
    await progress.run(
      "Querying every consumer table and named query through the Athena API",
      async () => {
        for (const contract of DATASETS)
          datasets[contract.name] = await reportDataset(
            contract,
            local,
            defined(samples.get(contract.name), `the sample set of ${contract.name}`),
            aws,
            outputs,
            since,
          );
        if (api) {
          const authorized = api.requests.filter((r) => r.headers.authorization === `Bearer ${token}`).length;
          if (authorized !== api.requests.length)
            throw new Error(
              `${api.requests.length - authorized} sample API request(s) came without the secret's token`,
            );
        }
      },
      () =>
        Object.entries(datasets)
          .map(([name, d]) => `${name} ${d.consumer.queryId}`)
          .join(", "),
    );

    const decisions = await emulator.iamDecisions();
    const counts = decisions.counts.data;
    if (!counts?.decided)
      throw new StepError(
        "Checking IAM",
        new Error(
          "the emulator decided no component's request while the data moved: are the components running with their roles?",
        ),
      );
    const iam = {
      mode: iamMode,
      counts,
      denials: decisions.denials.filter((d) => d.phase === "data"),
      roles: Object.keys(decisions.exercised).length,
      mainJobCalls: clients.calls.length - callsBeforeData,
      accountSigned: accountSigned(decisions.log, "data"),
      exercised: decisions.exercised,
    };
    const iamProblems = counts.denied
      ? [
          `${counts.denied} request(s) of the components were ${iamMode === "enforce" ? "denied" : "not allowed by their roles"}: ${iam.denials.map((d) => `${d.role.split("/").pop()} ${d.action} ${d.resource}`).join("; ")}`,
        ]
      : [];
    const report: MainJobReport = {
      deployed,
      plans,
      steps: progress.timings,
      datasets,
      calls: clients.calls,
      processes: [...new Set(processes)],
      iam,
      ok: Object.values(datasets).every((d) => d.problems.length === 0) && iamProblems.length === 0,
    };
    void fired;
    void settled;
    writeFileSync(join(WORK, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
    await progress.run("Report", () => printReport(report));
    if (!report.ok) {
      const problems = [
        ...Object.entries(datasets).flatMap(([name, d]) => d.problems.map((p) => `${name}: ${p}`)),
        ...iamProblems.map((p) => `IAM: ${p}`),
      ];
      throw new StepError(
        "Checking every dataset",
        new Error(`${problems.length} problem(s):\n  ${problems.join("\n  ")}\n(see ${join(WORK, "report.json")})`),
      );
    }
  } finally {
    await planning?.catch(() => undefined);
    await api?.stop();
    await emulator?.stop();
    await pg?.stop();
  }
}

/**
 * Requests of a phase signed with the account's key, by "<service> <operation>" ("s3 <METHOD> <bucket>"):
 * the main job's own calls, and Athena's S3 reads and result writes, which Athena makes with its caller's credentials.
 */
function accountSigned(log: string, phase: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of readFileSync(log, "utf8").split("\n")) {
    if (!line) continue;
    const e = JSON.parse(line) as {
      phase: string;
      kind: string;
      signer?: string;
      service: string;
      method: string;
      path: string;
      target?: string | null;
    };
    if (e.phase !== phase || e.kind !== "request" || e.signer !== "terraform") continue;
    const key = e.target
      ? `${e.service} ${e.target.split(".").pop()}`
      : `${e.service} ${e.method} ${e.path.split("/")[1] ?? ""}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** The stack outputs the main job reads (`terraform output -json`, each output's value). */
type StackOutputs = {
  ingestion_api_credentials_secret_arn: string;
  ingestion_kinesis_stream_names: Record<string, string>;
  ingestion_glue_job_names: Record<string, Record<string, string>>;
  orchestration_state_machine_arns: Record<string, string>;
  catalog_crawler_names: Record<string, string>;
  catalog_consumer_database_name: string;
  lake_quarantine_bucket_name: string;
  athena_analysts_workgroup_name: string;
  athena_named_query_ids?: Record<string, string>;
};

/** Whether an optional SDK state is one of these. */
function isOneOf(state: string | undefined, states: readonly string[]): boolean {
  return state !== undefined && states.includes(state);
}

/** Whether an optional SDK date is set and not before `since`. */
function onOrAfter(date: Date | undefined, since: Date): boolean {
  return date !== undefined && date >= since;
}

type Aws = {
  s3: S3Client;
  secrets: SecretsManagerClient;
  ddb: DynamoDBClient;
  kinesis: KinesisClient;
  glue: GlueClient;
  sfn: SFNClient;
  athena: AthenaClient;
};

/** A POST to one of the emulator's operator routes (e.g. firing a schedule now). */
async function emulatorPost(emulator: Emulator, path: string, body: unknown): Promise<string> {
  const { request } = await import("node:https");
  return new Promise((resolve, reject) => {
    const req = request(
      `${emulator.endpoint}${path}`,
      { method: "POST", ca: readFileSync(emulator.caBundle), headers: { "content-type": "application/json" } },
      (res) => {
        let data = "";
        res.on("data", (c) => (data += c));
        res.on("end", () =>
          res.statusCode && res.statusCode < 300
            ? resolve(data)
            : reject(new Error(`POST ${path}: HTTP ${res.statusCode} ${data}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** Writes the records to the dataset's source, as the source's own producer would. */
async function feed(
  contract: Dataset,
  rows: Row[],
  ctx: { pg?: PostgresServer; apiSources: Map<string, RecordsApi>; aws: Aws; outputs: StackOutputs },
): Promise<void> {
  const source = contract.source;
  switch (source.kind) {
    case "rds":
      await seedTable(defined(ctx.pg, "the PostgreSQL server"), contract, rows);
      return;
    case "api": {
      const path = new URL(source.path, "http://sample").pathname;
      const records = defined(ctx.apiSources.get(path), `the sample API source of ${path}`);
      for (const row of rows)
        records.upsert(Object.fromEntries(Object.entries(row).filter(([, v]) => v !== null)), contract.primaryKey);
      return;
    }
    case "kinesis": {
      const stream = ctx.outputs.ingestion_kinesis_stream_names[contract.name];
      for (let i = 0; i < rows.length; i += 100) {
        const batch = rows.slice(i, i + 100);
        const answer = await ctx.aws.kinesis.send(
          new PutRecordsCommand({
            StreamName: stream,
            Records: batch.map((r) => ({
              Data: Buffer.from(JSON.stringify(r)),
              PartitionKey: contract.primaryKey.map((k) => String(r[k])).join("|"),
            })),
          }),
        );
        if (answer.FailedRecordCount)
          throw new Error(`${contract.name}: Kinesis refused ${answer.FailedRecordCount} record(s)`);
      }
      return;
    }
    case "dynamodb": {
      const numeric = (t: string) => /^(int|bigint|double|decimal)/.test(t);
      const keyColumn = (name: string) =>
        defined(
          contract.columns.find((c) => c.name === name),
          `key column ${name}`,
        );
      const keyType = (name: string) => (numeric(keyColumn(name).type) ? "N" : "S");
      await ctx.aws.ddb.send(
        new CreateTableCommand({
          TableName: source.table,
          BillingMode: "PAY_PER_REQUEST",
          KeySchema: contract.primaryKey.map((k, i) => ({ AttributeName: k, KeyType: i === 0 ? "HASH" : "RANGE" })),
          AttributeDefinitions: contract.primaryKey.map((k) => ({ AttributeName: k, AttributeType: keyType(k) })),
        }),
      );
      await ctx.aws.ddb.send(
        new UpdateContinuousBackupsCommand({
          TableName: source.table,
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        }),
      );
      const item = (row: Row): Record<string, AttributeValue> => {
        const out: Record<string, AttributeValue> = {};
        for (const column of contract.columns) {
          const v = row[column.name];
          if (v === null || v === undefined) continue; // absent, as an application leaves an unset attribute
          if (typeof v === "boolean") out[column.name] = { BOOL: v };
          else if (numeric(column.type) && typeof v !== "string") out[column.name] = { N: String(v) };
          else if (numeric(column.type) && /^-?\d+(\.\d+)?$/.test(String(v))) out[column.name] = { N: String(v) };
          else out[column.name] = { S: String(v) };
        }
        return out;
      };
      for (let i = 0; i < rows.length; i += 25) {
        await ctx.aws.ddb.send(
          new BatchWriteItemCommand({
            RequestItems: { [source.table]: rows.slice(i, i + 25).map((r) => ({ PutRequest: { Item: item(r) } })) },
          }),
        );
      }
      return;
    }
    default:
      throw new Error(
        `dataset ${contract.name}: the main job cannot feed a source of kind ${(source as { kind: string }).kind}`,
      );
  }
}

/** Waits until every extract run ended, every pipeline execution ended with no new one for a while, and no crawler runs. */
async function settle(
  aws: Aws,
  outputs: StackOutputs,
  since: Date,
): Promise<{ executions: number; extractRuns: number }> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  const machines: Record<string, string> = outputs.orchestration_state_machine_arns;
  const extractJobs = Object.values(outputs.ingestion_glue_job_names).flatMap((jobs) =>
    Object.entries(jobs)
      .filter(([step]) => step === "extract")
      .map(([, j]) => j),
  );
  let lastCount = -1;
  let quietSince = Date.now();
  for (;;) {
    const runs = (
      await Promise.all(
        extractJobs.map(async (job) => (await aws.glue.send(new GetJobRunsCommand({ JobName: job }))).JobRuns ?? []),
      )
    ).flat();
    // A failed extract starts no execution: waiting out the timeout for it would only hide its error.
    const failed = runs.filter(
      (r) => isOneOf(r.JobRunState, ["FAILED", "ERROR", "TIMEOUT"]) && (r.StartedOn ?? since) >= since,
    );
    if (failed.length) {
      throw new Error(
        `${failed.length} extract run(s) failed, so their datasets cannot land:\n  ${failed
          .map(
            (r) =>
              `${r.JobName} ${r.Id}: ${r.JobRunState}: ${r.ErrorMessage ?? "(no message)"}` +
              `\n    its log: aws logs get-log-events --log-group-name ${r.LogGroupName ?? "/aws-glue/jobs/"}error --log-stream-name ${r.Id}`,
          )
          .join("\n  ")}`,
      );
    }
    const executions = (
      await Promise.all(
        Object.values(machines).map(
          async (arn) => (await aws.sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }))).executions ?? [],
        ),
      )
    )
      .flat()
      .filter((e) => onOrAfter(e.startDate, since));
    const datasetsWithRuns = Object.keys(machines).filter((name) =>
      executions.some((e) => e.stateMachineArn === machines[name]),
    ).length;
    const running =
      runs.some((r) => isOneOf(r.JobRunState, ["STARTING", "RUNNING", "STOPPING", "WAITING"])) ||
      executions.some((e) => e.status === "RUNNING");
    if (executions.length !== lastCount || running) {
      lastCount = executions.length;
      quietSince = Date.now();
    }
    if (!running && datasetsWithRuns === Object.keys(machines).length && Date.now() - quietSince >= QUIET_MS) {
      const crawlers = Object.values(outputs.catalog_crawler_names);
      const busy = (
        await Promise.all(
          crawlers.map(async (name) => (await aws.glue.send(new GetCrawlerCommand({ Name: name }))).Crawler?.State),
        )
      ).filter((s) => s !== "READY");
      if (!busy.length) return { executions: executions.length, extractRuns: runs.length };
    }
    if (Date.now() > deadline) {
      const missing = Object.keys(machines).filter(
        (name) => !executions.some((e) => e.stateMachineArn === machines[name]),
      );
      throw new Error(
        `the deployed chain did not settle in ${SETTLE_TIMEOUT_MS / 60_000} min: ${executions.filter((e) => e.status === "RUNNING").length} execution(s) still running` +
          `${missing.length ? `; no execution started for ${missing.join(", ")} (did its source land in raw?)` : ""}`,
      );
    }
    await sleep(2000);
  }
}

async function readText(aws: Aws, bucket: string, key: string): Promise<string> {
  const object = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = Buffer.from(await defined(object.Body, `the body of s3://${bucket}/${key}`).transformToByteArray());
  return (body[0] === 0x1f && body[1] === 0x8b ? gunzipSync(body) : body).toString("utf8");
}

async function listKeys(aws: Aws, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await aws.s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    keys.push(...(page.Contents ?? []).map((o) => defined(o.Key, `a key listed under s3://${bucket}/${prefix}`)));
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

async function athena(
  aws: Aws,
  request: { sql: string; database: string; workgroup: string },
): Promise<{ id: string; state: string; bytes: number; rows: Record<string, string>[]; error?: string }> {
  const { QueryExecutionId } = await aws.athena.send(
    new StartQueryExecutionCommand({
      QueryString: request.sql,
      QueryExecutionContext: { Database: request.database },
      WorkGroup: request.workgroup,
    }),
  );
  const id = defined(QueryExecutionId, "the started Athena query's id");
  for (;;) {
    const { QueryExecution: q } = await aws.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = defined(q?.Status?.State, `the state of Athena query ${id}`);
    if (state === "SUCCEEDED") {
      const rows: Record<string, string>[] = [];
      let token: string | undefined;
      let header: string[] | undefined;
      do {
        const page = await aws.athena.send(new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token }));
        for (const row of page.ResultSet?.Rows ?? []) {
          const values = (row.Data ?? []).map((d) => d.VarCharValue ?? "");
          if (!header) header = values;
          else rows.push(Object.fromEntries(header.map((h, i) => [h, values[i]])));
        }
        token = page.NextToken;
      } while (token);
      return { id, state, bytes: q?.Statistics?.DataScannedInBytes ?? 0, rows };
    }
    if (state === "FAILED" || state === "CANCELLED")
      return {
        id,
        state,
        bytes: q?.Statistics?.DataScannedInBytes ?? 0,
        rows: [],
        error: q?.Status?.StateChangeReason,
      };
    await sleep(300);
  }
}

function stepsOf(events: HistoryEvent[]): { steps: string[]; failedStep?: string; error?: string; cause?: string } {
  const steps: string[] = [];
  let current: string | undefined;
  let failedStep: string | undefined;
  let error: string | undefined;
  let cause: string | undefined;
  for (const e of events) {
    const name = e.stateEnteredEventDetails?.name;
    if (name) {
      steps.push(name);
      current = name;
    }
    const failure = e.taskFailedEventDetails ?? e.executionFailedEventDetails ?? e.lambdaFunctionFailedEventDetails;
    if (failure && !failedStep) {
      failedStep = current;
      error = failure.error;
      cause = failure.cause?.slice(0, 500);
    }
  }
  return { steps, failedStep, error, cause };
}

async function reportDataset(
  contract: Dataset,
  config: EnvironmentConfig,
  sample: SampleSet,
  aws: Aws,
  outputs: StackOutputs,
  since: Date,
): Promise<DatasetReport> {
  const dataset = new PartitionedDataset(contract, config.partitioning, config.name);
  const problems: string[] = [];
  const machine = outputs.orchestration_state_machine_arns[contract.name];
  const listed = (
    (await aws.sfn.send(new ListExecutionsCommand({ stateMachineArn: machine }))).executions ?? []
  ).flatMap((e) => (e.startDate && e.startDate >= since ? [{ ...e, startDate: e.startDate }] : []));
  const executions: DatasetReport["executions"] = [];
  for (const e of listed.sort((a, b) => a.startDate.getTime() - b.startDate.getTime())) {
    const described = await aws.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
    const history = await aws.sfn.send(
      new GetExecutionHistoryCommand({ executionArn: e.executionArn, maxResults: 1000 }),
    );
    const { steps, failedStep, error, cause } = stepsOf(history.events ?? []);
    const startDate = defined(described.startDate, `the start date of execution ${e.name}`);
    const seconds = ((described.stopDate ?? new Date()).getTime() - startDate.getTime()) / 1000;
    const failed = described.status !== "SUCCEEDED";
    executions.push({
      name: defined(e.name, "a listed execution's name"),
      arn: defined(e.executionArn, `the ARN of execution ${e.name}`),
      status: defined(described.status, `the status of execution ${e.name}`),
      seconds,
      steps,
      ...(failed
        ? {
            failedStep,
            error: error ?? described.error,
            cause: cause ?? described.cause?.slice(0, 500),
            redrive: `npm run pipeline:rerun -- --env ${config.name} --dataset ${contract.name} --redrive ${e.executionArn}`,
          }
        : {}),
    });
    if (failed)
      problems.push(
        `execution ${e.name} ${described.status}${failedStep ? ` at ${failedStep}` : ""}: ${error ?? described.error ?? ""}`,
      );
  }
  if (!executions.length) problems.push("no pipeline execution started (nothing landed in raw?)");

  const glueRuns: DatasetReport["glueRuns"] = [];
  for (const job of Object.values(outputs.ingestion_glue_job_names[contract.name] ?? {})) {
    const runs: JobRun[] = (await aws.glue.send(new GetJobRunsCommand({ JobName: job }))).JobRuns ?? [];
    for (const r of runs.filter((run) => onOrAfter(run.StartedOn, since))) {
      glueRuns.push({
        job,
        id: defined(r.Id, `the id of a run of ${job}`),
        state: defined(r.JobRunState, `the state of run ${r.Id} of ${job}`),
        seconds: r.ExecutionTime ?? 0,
        ...(r.ErrorMessage ? { error: r.ErrorMessage.split("\n")[0] } : {}),
      });
      if (r.JobRunState !== "SUCCEEDED")
        problems.push(`Glue run ${r.Id} of ${job} ${r.JobRunState}: ${r.ErrorMessage?.split("\n")[0] ?? ""}`);
    }
  }

  // What the runs recorded: each execution's raw → processed summary.
  const quarantineBucket = outputs.lake_quarantine_bucket_name;
  const records = { raw: 0, processed: 0, quarantined: 0, quarantinedAtIngest: 0, setAsideObjects: 0, consumer: 0 };
  const byReason: Record<string, number> = {};
  for (const e of executions.filter((x) => x.status === "SUCCEEDED")) {
    const summary = JSON.parse(
      await readText(aws, quarantineBucket, runLayout.summaryKey(dataset.prefix, "raw_to_processed", e.name)),
    );
    records.raw += summary.input.records;
    records.processed += summary.processed.records;
    records.quarantined += summary.quarantined.records;
    records.setAsideObjects += summary.setAside.length;
    for (const [reason, n] of Object.entries(summary.quarantined.byReason as Record<string, number>))
      byReason[reason] = (byReason[reason] ?? 0) + n;
    if (
      summary.input.records !==
      summary.processed.records + summary.quarantined.records - (summary.objects?.unreadable ?? 0)
    ) {
      problems.push(
        `execution ${e.name}: input ${summary.input.records} != processed ${summary.processed.records} + quarantined ${summary.quarantined.records}`,
      );
    }
  }
  // Records an ingest function quarantined before raw (the API path checks the contract too).
  for (const key of await listKeys(aws, quarantineBucket, `${dataset.prefix}api_ingest/`)) {
    const reason = key.slice(`${dataset.prefix}api_ingest/`.length).split("/")[0];
    const lines = (await readText(aws, quarantineBucket, key)).split("\n").filter((l) => l.trim()).length;
    records.quarantinedAtIngest += lines;
    byReason[`ingest:${reason}`] = (byReason[`ingest:${reason}`] ?? 0) + lines;
  }

  const fedTotal = sample.good.length + sample.bad.length;
  if (records.raw + records.quarantinedAtIngest !== fedTotal)
    problems.push(
      `fed ${fedTotal} records, but raw holds ${records.raw} and ingest quarantined ${records.quarantinedAtIngest}`,
    );
  if (records.processed !== sample.good.length)
    problems.push(`processed ${records.processed} records, expected the ${sample.good.length} good ones`);
  if (records.quarantined + records.quarantinedAtIngest !== sample.bad.length)
    problems.push(
      `quarantined ${records.quarantined + records.quarantinedAtIngest} records, expected the ${sample.bad.length} bad ones`,
    );

  // The consumer table, through Athena.
  const view = dataset.consumer;
  const table = dataset.consumerTableName;
  const countMeasure = view.kind === "aggregate" ? view.measures.find((m) => m.fn === "count") : undefined;
  const sql = `SELECT count(*) AS table_rows${countMeasure ? `, sum(${countMeasure.name}) AS counted` : ""} FROM "${outputs.catalog_consumer_database_name}"."${table}"`;
  const q = await athena(aws, {
    sql,
    database: outputs.catalog_consumer_database_name,
    workgroup: outputs.athena_analysts_workgroup_name,
  });
  const rows = q.state === "SUCCEEDED" ? Number(q.rows[0]?.table_rows ?? 0) : 0;
  records.consumer = countMeasure ? Number(q.rows[0]?.counted ?? 0) : rows;
  const reconciled = q.state === "SUCCEEDED" && records.consumer === records.processed;
  const detail = countMeasure ? `${rows} rows, ${countMeasure.name} totals ${records.consumer}` : `${rows} rows`;
  if (q.state !== "SUCCEEDED") problems.push(`Athena query ${q.id} ${q.state}: ${q.error}`);
  else if (!reconciled)
    problems.push(`consumer ${table} holds ${records.consumer} records, processed ${records.processed}`);
  for (const zone of ["raw", "processed", "consumer"] as const)
    if (!records[zone]) problems.push(`no records in ${zone}`);

  let namedQuery: DatasetReport["namedQuery"];
  const namedId = outputs.athena_named_query_ids?.[contract.name];
  if (namedId) {
    const { NamedQuery } = await aws.athena.send(new GetNamedQueryCommand({ NamedQueryId: namedId }));
    const named = defined(NamedQuery, `named query ${namedId}`);
    const name = defined(named.Name, `the name of named query ${namedId}`);
    const n = await athena(aws, {
      sql: defined(named.QueryString, `the SQL of named query ${name}`),
      database: defined(named.Database, `the database of named query ${name}`),
      workgroup: named.WorkGroup ?? outputs.athena_analysts_workgroup_name,
    });
    namedQuery = { name, queryId: n.id, bytesScanned: n.bytes, rows: n.rows.length, state: n.state };
    if (n.state !== "SUCCEEDED") problems.push(`named query ${name} ${n.state}: ${n.error}`);
  }

  return {
    source: contract.source.kind,
    fed: { good: sample.good.length, bad: sample.bad.length, badReasons: sample.bad.map((b) => b.reason) },
    executions,
    glueRuns,
    records,
    quarantineByReason: Object.fromEntries(Object.entries(byReason).sort()),
    consumer: { table, queryId: q.id, bytesScanned: q.bytes, rows, reconciled, detail },
    namedQuery,
    problems,
  };
}

function printReport(report: MainJobReport): void {
  const out: string[] = [];
  out.push("", "Platform");
  out.push(`  local stack: ${report.deployed} resources deployed to the emulator`);
  for (const line of report.plans) out.push(`  plan ${line}`);
  out.push("", "Records per zone (input = processed + quarantined; the API path quarantines some before raw)");
  const rows = [["dataset", "source", "fed", "raw", "processed", "quarantined", "consumer", "reconciled"]];
  for (const [name, d] of Object.entries(report.datasets)) {
    const r = d.records;
    rows.push([
      name,
      d.source,
      `${d.fed.good}+${d.fed.bad}`,
      String(r.raw),
      String(r.processed),
      String(r.quarantined + r.quarantinedAtIngest),
      `${d.consumer.table}: ${d.consumer.detail}`,
      d.problems.length ? "NO" : "yes",
    ]);
  }
  out.push(...table(rows).map((l) => `  ${l}`));
  for (const [name, d] of Object.entries(report.datasets)) {
    out.push("", `${name}`);
    out.push(
      `  quarantine by reason: ${
        Object.entries(d.quarantineByReason)
          .map(([r, n]) => `${r} ×${n}`)
          .join(", ") || "none"
      }`,
    );
    for (const e of d.executions) {
      out.push(`  execution ${e.name}: ${e.status} in ${e.seconds.toFixed(1)} s — ${e.steps.join(" → ")}`);
      if (e.status !== "SUCCEEDED") {
        out.push(`    failed at ${e.failedStep ?? "?"}: ${e.error ?? ""} ${e.cause ?? ""}`.trimEnd());
        out.push(`    redrive: ${e.redrive}`);
      }
    }
    for (const g of d.glueRuns)
      out.push(`  Glue ${g.job} ${g.id}: ${g.state} (${g.seconds} s)${g.error ? ` ${g.error}` : ""}`);
    out.push(`  Athena ${d.consumer.queryId}: ${d.consumer.detail}, ${d.consumer.bytesScanned} bytes scanned`);
    if (d.namedQuery)
      out.push(
        `  named query ${d.namedQuery.name} ${d.namedQuery.queryId}: ${d.namedQuery.state}, ${d.namedQuery.rows} rows, ${d.namedQuery.bytesScanned} bytes scanned`,
      );
    for (const p of d.problems) out.push(`  PROBLEM: ${p}`);
  }
  const c = report.iam.counts;
  out.push("", `IAM (${report.iam.mode}, while the data moved)`);
  out.push(
    `  ${c.decided} requests of ${report.iam.roles} deployed roles decided: ${c.allowed} allowed, ${c.denied} denied`,
  );
  out.push(
    `  ${c.serviceAssumeRole} AssumeRole calls of the emulated services, trust-checked; ${c.terraformSigned} requests signed with the account's key (the main job's ${report.iam.mainJobCalls}, Athena's on its behalf, any plan's), ${c.unsigned} unsigned`,
  );
  for (const d of report.iam.denials) out.push(`  DENIED ${d.principal} ${d.action} ${d.resource}: ${d.reason}`);
  out.push("", "Steps (wall time)");
  out.push(
    ...table([["step", "seconds"], ...report.steps.map((s) => [s.title, s.seconds.toFixed(1)])]).map((l) => `  ${l}`),
  );
  const commands = new Map<string, number>();
  for (const c of report.calls)
    commands.set(`${c.service}:${c.command}`, (commands.get(`${c.service}:${c.command}`) ?? 0) + 1);
  out.push("", `AWS calls the main job made: ${[...commands].map(([c, n]) => `${c} ×${n}`).join(", ")}`);
  process.stdout.write(`${out.join("\n")}\n\n`);
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((cell, i) => (cell ?? "").padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)];
}

main().catch((error: Error) => {
  const message = error instanceof StepError ? error.message : (error.stack ?? String(error));
  process.stderr.write(`\nnpm start failed: ${message}\n`);
  process.exit(1);
});
