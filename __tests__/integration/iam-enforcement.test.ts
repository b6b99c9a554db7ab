/**
 * Least privilege, proven by removing it: in the run's shared local cloud (`local` applied by
 * terraform once, the emulator enforcing IAM: scripts/emulator/services/iam_enforce.py), one grant
 * at a time removed from a deployed role in place (PutRolePolicy) and restored afterwards. Each component, run with
 * its deployed role, first succeeds, and without the grant fails at exactly that call, with a
 * denial naming the principal, the action and the resource.
 *
 * From the trigger to the observation, the decision log must show no request signed with terraform's
 * key other than the test's own (tagged with the SDK's app id), none unsigned and none with moto's
 * fixed key: everything the component did ran under its role, and was decided. The window is the
 * log's lines, not a phase: an asynchronous component may start before the trigger call returns.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DeleteObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { DATASETS } from "../../datasets";
import { loadEnvironment } from "../../environments";
import { emulatorAccessKey, type IamDecisionSummary } from "../../scripts/emulator";
import { sampleSet } from "../../scripts/local/sample-data";
import { sharedLocalCloud } from "../helpers/local-cloud";
import { defined } from "../../modules/shared/defined";

const ROOT = join(__dirname, "..", "..");
const config = loadEnvironment("local");
const cloud = sharedLocalCloud();
const emulator = cloud.emulator;

jest.setTimeout(20 * 60_000);

beforeAll(() => {
  // A developer's own cloud (DATAPLAT_TEST_LOCAL_CLOUD) may only observe: nothing here would be denied.
  if (cloud.iam !== "enforce")
    throw new Error(
      `the shared local cloud's emulator runs IAM in "${cloud.iam}" mode; these tests need "enforce" (start it with EMULATOR_IAM=enforce)`,
    );
});

/** The SDK app id the test's own requests carry in their user agent, to tell them from a component's. */
const TEST_AGENT = "iam-enforcement-test";

/** boto3 as the account (terraform's key): the project's Node dependencies have no IAM, Lambda or Pipes client. */
function boto<T>(code: string): T {
  const done = spawnSync(join(ROOT, ".venv", "bin", "python"), ["-c", `import boto3, json, fnmatch\n${code}`], {
    env: { ...process.env, ...emulator.env(config.accountId, config.region), AWS_SDK_UA_APP_ID: TEST_AGENT },
    encoding: "utf8",
  });
  if (done.status !== 0) throw new Error(`boto3: ${done.stderr}`);
  return JSON.parse(defined(done.stdout.trim().split("\n").pop(), "the last line of stdout"));
}

/**
 * Runs `body` with `action` on `resource` removed from the role's inline policies (each statement
 * that grants it loses that action, or the pattern that matched it), then restores them.
 */
async function withoutGrant<T>(roleArn: string, action: string, resource: string, body: () => Promise<T>): Promise<T> {
  const role = defined(roleArn.split("/").pop(), "the role's name");
  const saved = boto<Record<string, unknown>>(`
iam = boto3.client("iam")
print(json.dumps({n: iam.get_role_policy(RoleName=${JSON.stringify(role)}, PolicyName=n)["PolicyDocument"] for n in iam.list_role_policies(RoleName=${JSON.stringify(role)})["PolicyNames"]}))`);
  let removed = 0;
  const stripped = Object.fromEntries(
    Object.entries(saved).map(([name, doc]) => {
      const policy = doc as {
        Statement: { Effect: string; Action: string | string[]; Resource?: string | string[] }[];
      };
      const statements = policy.Statement.flatMap((stmt) => {
        const actions = ([] as string[]).concat(stmt.Action);
        const resources = ([] as string[]).concat(stmt.Resource ?? []);
        if (stmt.Effect !== "Allow" || !resources.some((r) => wildcard(r, resource))) return [stmt];
        const kept = actions.filter((a) => !wildcard(a.toLowerCase(), action.toLowerCase()));
        removed += actions.length - kept.length;
        return kept.length ? [{ ...stmt, Action: kept }] : [];
      });
      return [name, { ...policy, Statement: statements }];
    }),
  );
  if (removed === 0) throw new Error(`no inline policy of ${roleArn} grants ${action} on ${resource}`);
  const put = (docs: Record<string, unknown>) =>
    boto(`
iam = boto3.client("iam")
for name, doc in json.loads(${JSON.stringify(JSON.stringify(docs))}).items():
    iam.put_role_policy(RoleName=${JSON.stringify(role)}, PolicyName=name, PolicyDocument=json.dumps(doc))
print("true")`);
  put(stripped);
  try {
    return await body();
  } finally {
    put(saved);
  }
}

function wildcard(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
  return re.test(value);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 8 * 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

type Decision = { principal: string; role: string; action: string; resource: string; allowed: boolean; reason: string };
type LogEntry = { kind: string; signer?: string; agent?: string | null } & Partial<Decision>;

/** The decision log's entries (JSON lines) after `offset`. */
function entriesSince(summary: IamDecisionSummary, offset: number): LogEntry[] {
  return readFileSync(summary.log, "utf8")
    .split("\n")
    .filter(Boolean)
    .slice(offset)
    .map((l: string) => JSON.parse(l) as LogEntry);
}

function decisionsSince(summary: IamDecisionSummary, offset: number): Decision[] {
  return entriesSince(summary, offset).filter((e): e is LogEntry & Decision => e.kind === "decision");
}

/** Who signed the requests among `entries`, the test's own terraform-signed calls left out. */
function signers(entries: LogEntry[]) {
  const requests = entries.filter((e) => e.kind === "request");
  const by = (signer: string) => requests.filter((e) => e.signer === signer);
  return {
    decided: entries.filter((e) => e.kind === "decision").length,
    terraformSigned: by("terraform").filter((e) => !(e.agent ?? "").includes(`app/${TEST_AGENT}`)).length,
    unsigned: by("unsigned").length,
    other: by("other").length,
  };
}

function logLength(summary: IamDecisionSummary): number {
  return readFileSync(summary.log, "utf8").split("\n").filter(Boolean).length;
}

/**
 * Triggers a component (in a decision-log phase of its own, for a reader of the log), then waits, reading
 * only the log, until a decision for `action` on `resource` by `roleArn` is recorded; returns it and who
 * signed the requests logged since the trigger.
 */
async function decisionAfter(
  trigger: () => Promise<void> | void,
  roleArn: string,
  action: string,
  resource: RegExp,
  phase: string,
) {
  await emulator.iamPhase(phase);
  const start = logLength(await emulator.iamDecisions());
  await trigger();
  const decision = await waitFor(`${action} on ${resource} by ${roleArn}`, async () =>
    decisionsSince(await emulator.iamDecisions(), start).find(
      (d) => d.role === roleArn && d.action === action && resource.test(d.resource),
    ),
  );
  const counts = signers(entriesSince(await emulator.iamDecisions(), start));
  return { decision, counts };
}

function expectOnlyComponentPrincipals(counts: ReturnType<typeof signers>): void {
  expect({ terraformSigned: counts.terraformSigned, unsigned: counts.unsigned, other: counts.other }).toEqual({
    terraformSigned: 0,
    unsigned: 0,
    other: 0,
  });
  expect(counts.decided).toBeGreaterThan(0);
}

describe("the Lambda role's sqs:SendMessage to its dead-letter queue", () => {
  it("a failed async invocation reaches the DLQ under the function's role, and without the grant is denied there", async () => {
    const fn = boto<{ name: string; role: string; dlq: string }>(`
l = boto3.client("lambda")
f = l.list_functions()["Functions"][0]
c = l.get_function_event_invoke_config(FunctionName=f["FunctionName"])
print(json.dumps({"name": f["FunctionName"], "role": f["Role"], "dlq": c["DestinationConfig"]["OnFailure"]["Destination"]}))`);
    const invoke = () => {
      boto(
        `print(json.dumps(boto3.client("lambda").invoke(FunctionName=${JSON.stringify(fn.name)}, InvocationType="Event", Payload=b"{}")["StatusCode"]))`,
      );
    };
    const dlq = new RegExp(`^${fn.dlq}$`);
    const allowed = await decisionAfter(invoke, fn.role, "sqs:SendMessage", dlq, "lambda-dlq");
    expect(allowed.decision.allowed).toBe(true);
    expectOnlyComponentPrincipals(allowed.counts);

    const denied = await withoutGrant(fn.role, "sqs:SendMessage", fn.dlq, () =>
      decisionAfter(invoke, fn.role, "sqs:SendMessage", dlq, "lambda-dlq-mutated"),
    );
    expect(denied.decision.allowed).toBe(false);
    expect(denied.decision.principal).toMatch(
      new RegExp(`^arn:aws:sts::${config.accountId}:assumed-role/${fn.role.split("/").pop()}/`),
    );
    expect(denied.decision.reason).toMatch(/no identity-based or resource-based policy allows it/);
    expectOnlyComponentPrincipals(denied.counts);
  });
});

describe("the pipe role's states:StartExecution", () => {
  it("a landing on the pipe's queue starts the pipeline under the pipe's role, and without the grant is denied there", async () => {
    const dataset = DATASETS[0].name;
    const pipe = boto<{ role: string; source: string; target: string; url: string }>(`
p = boto3.client("pipes")
name = [x["Name"] for x in p.list_pipes()["Pipes"] if x["Name"].endswith("-${dataset}-pipeline")][0]
d = p.describe_pipe(Name=name)
q = d["Source"].split(":")
url = boto3.client("sqs").get_queue_url(QueueName=q[5])["QueueUrl"]
print(json.dumps({"role": d["RoleArn"], "source": d["Source"], "target": d["Target"], "url": url}))`);
    const land = (key: string) => () => {
      const event = {
        source: "aws.s3",
        "detail-type": "Object Created",
        detail: { bucket: { name: "raw" }, object: { key } },
      };
      boto(
        `print(json.dumps(boto3.client("sqs").send_message(QueueUrl=${JSON.stringify(pipe.url)}, MessageBody=json.dumps(${JSON.stringify(event)}))["MessageId"]))`,
      );
    };
    const target = new RegExp(`^${pipe.target}$`);
    const allowed = await decisionAfter(
      land(`${dataset}/dt=2024-05-01/a.json`),
      pipe.role,
      "states:StartExecution",
      target,
      "pipe",
    );
    expect(allowed.decision.allowed).toBe(true);
    expectOnlyComponentPrincipals(allowed.counts);

    const denied = await withoutGrant(pipe.role, "states:StartExecution", pipe.target, () =>
      decisionAfter(
        land(`${dataset}/dt=2024-05-02/b.json`),
        pipe.role,
        "states:StartExecution",
        target,
        "pipe-mutated",
      ),
    );
    expect(denied.decision.allowed).toBe(false);
    expect(denied.decision.principal).toContain(`assumed-role/${pipe.role.split("/").pop()}/`);
    expectOnlyComponentPrincipals(denied.counts);
  });
});

describe("a job role's write to the processed zone and its kms:GenerateDataKey on the processed key", () => {
  it("a landing's raw → processed run writes processed under the job's role; without either grant it is denied at that call", async () => {
    const outputs = cloud.outputs();
    const jobs = outputs.ingestion_glue_job_names.value as Record<string, Record<string, string>>;
    const contract = DATASETS.find(
      (d) =>
        jobs[d.name]?.rawToProcessed &&
        (outputs.orchestration_state_machine_arns.value as Record<string, string>)[d.name],
    );
    if (!contract) throw new Error("no dataset of local has a raw → processed pipeline");
    const raw = outputs.lake_raw_bucket_name.value as string;
    const processed = outputs.lake_processed_bucket_name.value as string;
    const key = outputs.lake_processed_kms_key_arn.value as string;
    const role = boto<{ role: string }>(`
r = boto3.client("glue").get_job(JobName=${JSON.stringify(jobs[contract.name].rawToProcessed)})["Job"]["Role"]
print(json.dumps({"role": r if r.startswith("arn:") else boto3.client("iam").get_role(RoleName=r)["Role"]["Arn"]}))`).role;
    const s3 = new S3Client({
      endpoint: emulator.endpoint,
      region: config.region,
      forcePathStyle: true,
      credentials: { accessKeyId: emulatorAccessKey(config.accountId), secretAccessKey: "emulator" },
      customUserAgent: `app/${TEST_AGENT}`,
      requestHandler: { httpsAgent: emulator.httpsAgent() },
    });
    // A producer's landing of good records (made from the contract): the deployed chain takes it to processed.
    const [row] = sampleSet(contract, config.partitioning, { count: 1, days: 1 }).good;
    const folder = `${contract.name}/`; // the dataset's folder in every zone
    // At the dataset's partition depth, as its producers land: the raw crawler refuses a mix of depths.
    const partition = config.partitioning.keys
      .map(
        (k) =>
          `${k.name}=${k.type === "date" ? String(row[contract.eventTimeColumn]).slice(0, 10) : String(row[k.name])}`,
      )
      .join("/");
    const landed: string[] = [];
    const land = (tag: string) => async () => {
      const key = `${folder}${partition}/iam-${tag}-${Date.now()}.json`;
      landed.push(key);
      await s3.send(new PutObjectCommand({ Bucket: raw, Key: key, Body: `${JSON.stringify(row)}\n` }));
    };
    const write = new RegExp(`^arn:aws:s3:::${processed}/${folder}`);
    const keyArn = new RegExp(`^${key}$`);

    const before = logLength(await emulator.iamDecisions());
    const allowed = await decisionAfter(land("baseline"), role, "s3:PutObject", write, "glue-processed");
    expect(allowed.decision.allowed).toBe(true);
    expectOnlyComponentPrincipals(allowed.counts);
    // The implied call S3 makes to encrypt that write, decided for the same role.
    const generated = await waitFor("kms:GenerateDataKey on the processed key", async () =>
      decisionsSince(await emulator.iamDecisions(), before).find(
        (d) => d.role === role && d.action === "kms:GenerateDataKey" && keyArn.test(d.resource),
      ),
    );
    expect(generated.allowed).toBe(true);

    const noWrite = await withoutGrant(role, "s3:PutObject", `arn:aws:s3:::${processed}/${folder}x`, () =>
      decisionAfter(land("no-write"), role, "s3:PutObject", write, "glue-processed-mutated"),
    );
    expect(noWrite.decision).toMatchObject({
      allowed: false,
      reason: expect.stringMatching(/no identity-based or resource-based policy allows it/),
    });
    expect(noWrite.decision.principal).toContain(`assumed-role/${role.split("/").pop()}/`);
    expectOnlyComponentPrincipals(noWrite.counts);

    const noKey = await withoutGrant(role, "kms:GenerateDataKey", key, () =>
      decisionAfter(land("no-key"), role, "kms:GenerateDataKey", keyArn, "glue-processed-key-mutated"),
    );
    expect(noKey.decision.allowed).toBe(false);
    expect(noKey.decision.principal).toContain(`assumed-role/${role.split("/").pop()}/`);
    expectOnlyComponentPrincipals(noKey.counts);
    for (const key of landed) await s3.send(new DeleteObjectCommand({ Bucket: raw, Key: key }));
  });
});
