/**
 * Two runs of the deployed RDS extract against the shared local cloud's PostgreSQL, with rows added
 * and changed between them: the Glue job as terraform deployed it (its script, `--extra-py-files`,
 * default arguments, connection and bookmark option), started as an operator or its schedule would
 * (`glue start-job-run`). The first run lands the table; the second lands only the rows whose
 * version column moved past the bookmark, new and changed, and nothing else. Both landings then go
 * through the deployed Pipe and pipeline, whose executions succeed.
 *
 * The dataset is the first RDS-sourced one in DATASETS: nothing here names one.
 */
import {
  GetJobRunCommand,
  GlueClient,
  ResetJobBookmarkCommand,
  StartJobRunCommand,
  type JobRun,
} from "@aws-sdk/client-glue";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from "@aws-sdk/client-sfn";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { DATASETS } from "../../datasets";
import { loadEnvironment } from "../../environments";
import { emulatorAccessKey } from "../../scripts/emulator";
import {
  attachPostgres,
  postgresBinDir,
  sampleRows,
  seedTable,
  sourceTable,
  type Row,
} from "../../scripts/local/postgres";
import { sharedLocalCloud } from "../helpers/local-cloud";
import { defined } from "../../modules/shared/defined";

const config = loadEnvironment("local");
const cloud = sharedLocalCloud();
const contract = DATASETS.find((d) => d.source.kind === "rds");
const pg = attachPostgres(cloud.postgres);
const common = {
  endpoint: cloud.emulator.endpoint,
  region: config.region,
  credentials: { accessKeyId: emulatorAccessKey(config.accountId), secretAccessKey: "emulator" },
  requestHandler: { httpsAgent: cloud.emulator.httpsAgent() },
};
const glue = new GlueClient(common);
const s3 = new S3Client({ ...common, forcePathStyle: true });
const sfn = new SFNClient(common);

jest.setTimeout(20 * 60_000);

if (!contract) throw new Error("no dataset in DATASETS has an RDS source: this test needs one");
const dataset = contract.name;
const key = (row: Record<string, unknown>) => contract.primaryKey.map((k) => String(row[k])).join("|");
const version = contract.versionColumn ?? contract.eventTimeColumn;

/** The table's rows as PostgreSQL has them, each as its primary key → version column (ISO text). */
function table(): Map<string, string> {
  const { schema, table: name } = sourceTable(defined(contract, "the RDS dataset"));
  const cols = [...defined(contract, "the RDS dataset").primaryKey, version].map((c) => `"${c}"`);
  const done = spawnSync(
    join(defined(postgresBinDir(), "the PostgreSQL bin directory"), "psql"),
    [
      "-X",
      "-At",
      "-F",
      "\t",
      "-h",
      join(pg.dataDir, "socket"),
      "-p",
      String(pg.port),
      "-U",
      "postgres",
      "-d",
      pg.database,
      "-c",
      `SELECT ${cols.join(", ")} FROM "${schema}"."${name}"`,
    ],
    { encoding: "utf8" },
  );
  if (done.status !== 0) throw new Error(`psql: ${done.stderr}`);
  return new Map(
    done.stdout
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const values = line.split("\t");
        return [values.slice(0, -1).join("|"), values[values.length - 1]];
      }),
  );
}

/** Starts the deployed extract with no run arguments, as its schedule does, and waits for it to end. */
async function extract(job: string): Promise<JobRun> {
  const { JobRunId } = await glue.send(new StartJobRunCommand({ JobName: job }));
  for (;;) {
    const { JobRun: run } = await glue.send(
      new GetJobRunCommand({ JobName: job, RunId: defined(JobRunId, `the started ${job} run's id`) }),
    );
    if (
      !["STARTING", "RUNNING", "STOPPING", "WAITING"].includes(defined(run?.JobRunState, `the state of the ${job} run`))
    )
      return defined(run, `the ${job} run`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The records a run landed in raw: its files are named after the run id (part-<run id>-…). */
async function landed(bucket: string, runId: string): Promise<Record<string, unknown>[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: `${dataset}/`, ContinuationToken: token }),
    );
    keys.push(
      ...(page.Contents ?? [])
        .map((o) => defined(o.Key, "a listed object's key"))
        .filter((k) => k.includes(`/part-${runId}-`)),
    );
    token = page.NextContinuationToken;
  } while (token);
  const records: Record<string, unknown>[] = [];
  for (const k of keys) {
    const body = Buffer.from(
      await defined(
        (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k }))).Body,
        `the object ${k}'s body`,
      ).transformToByteArray(),
    );
    const text = (body[0] === 0x1f && body[1] === 0x8b ? gunzipSync(body) : body).toString("utf8");
    records.push(
      ...text
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    );
  }
  return records;
}

/** The same instant as PostgreSQL prints it and as the sample rows write it. */
const instant = (text: string) => new Date(text.replace(" ", "T").replace(/\+00$/, "Z")).getTime();

it("the second run of the deployed extract lands only the rows added and changed since the first; both landings reach processed", async () => {
  const outputs = cloud.outputs();
  const job = (outputs.ingestion_glue_job_names.value as Record<string, Record<string, string>>)[dataset].extract;
  const raw = outputs.lake_raw_bucket_name.value as string;
  const machine = (outputs.orchestration_state_machine_arns.value as Record<string, string>)[dataset];
  if (!job) throw new Error(`${dataset} has no deployed extract job`);
  const since = new Date(Date.now() - 1000);
  // A developer's own cloud may have run it before: start from no bookmark, as after a reset.
  await glue.send(new ResetJobBookmarkCommand({ JobName: job })).catch((e: Error) => {
    if (e.name !== "EntityNotFoundException") throw e;
  });

  const rows = sampleRows(contract, { count: 24, partitioning: config.partitioning, days: 1 });
  await seedTable(pg, contract, rows.slice(0, 20));
  const first = await extract(job);
  expect({ state: first.JobRunState, error: first.ErrorMessage }).toEqual({ state: "SUCCEEDED", error: undefined });
  const firstRecords = await landed(raw, defined(first.Id, "the first run's id"));
  expect(firstRecords.map(key).sort()).toEqual([...table().keys()].sort());
  expect(firstRecords.length).toBeGreaterThanOrEqual(20);

  // Between the runs the application changes three rows and adds four, each stamped after every version read.
  const latest = Math.max(...[...table().values()].map(instant));
  const stamp = (i: number) => new Date(latest + (i + 1) * 60_000).toISOString().replace(".000Z", "Z");
  const changed = rows.slice(0, 3).map((row, i): Row => ({ ...row, [version]: stamp(i) }));
  const added = rows.slice(20).map((row, i): Row => ({ ...row, [version]: stamp(3 + i) }));
  await seedTable(pg, contract, [...changed, ...added]);
  const second = await extract(job);
  expect({ state: second.JobRunState, error: second.ErrorMessage }).toEqual({ state: "SUCCEEDED", error: undefined });
  const secondRecords = await landed(raw, defined(second.Id, "the second run's id"));
  expect(secondRecords.map(key).sort()).toEqual([...changed, ...added].map(key).sort());
  for (const record of secondRecords) expect(instant(String(record[version]))).toBeGreaterThan(latest);

  // The deployed chain takes both landings to processed (one execution per Pipe batch). Only the
  // executions whose input names this test's landings are its own: other tests on the shared cloud
  // leave batches that start executions of their own.
  const deadline = Date.now() + 15 * 60_000;
  const ids = [defined(first.Id, "the first run's id"), defined(second.Id, "the second run's id")];
  for (;;) {
    const executions = (
      (await sfn.send(new ListExecutionsCommand({ stateMachineArn: machine }))).executions ?? []
    ).filter((e) => defined(e.startDate, "the execution's start date") >= since);
    const described = await Promise.all(
      executions.map((e) =>
        sfn.send(new DescribeExecutionCommand({ executionArn: defined(e.executionArn, "the execution's ARN") })),
      ),
    );
    const ours = described.filter((d) => ids.some((id) => (d.input ?? "").includes(`part-${id}-`)));
    if (
      ids.every((id) => ours.some((d) => (d.input ?? "").includes(`part-${id}-`))) &&
      ours.every((d) => d.status !== "RUNNING")
    ) {
      expect(ours.map((d) => ({ status: d.status, error: d.error, cause: d.cause }))).toEqual(
        ours.map(() => ({ status: "SUCCEEDED", error: undefined, cause: undefined })),
      );
      break;
    }
    if (Date.now() > deadline)
      throw new Error(
        `the pipeline executions of ${dataset} did not take both landings in 15 min: ${described.map((d) => `${d.name} ${d.status}`).join(", ")}`,
      );
    await new Promise((r) => setTimeout(r, 2000));
  }
});
