/**
 * Faults through the deployed chain: `local` synthesized, and the resources three failure paths
 * need applied by terraform to the emulator (one targeted apply: each chain with what it depends
 * on), then each fault made to happen and followed to where AWS would put it:
 *
 * 1. A Glue job that raises → the state machine's Catch → the alert on the SNS alerts topic → the
 *    alerts-log queue, through the subscription terraform created.
 * 2. A batch the Pipe cannot deliver (its target state machine is gone) → back on the landing
 *    buffer after its visibility timeout (scaled, EMULATOR_SCALE) → the buffer's dead-letter queue
 *    after maxReceiveCount.
 * 3. An API Lambda whose async invocation fails → Lambda's retries (the event invoke config) → its
 *    on-failure destination, as Lambda's invocation record.
 *
 * The datasets are taken from DATASETS (the first with a batched pipeline, the first API source):
 * nothing here names one.
 */
import { DeleteStateMachineCommand, DescribeExecutionCommand, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DATASETS } from "../../datasets";
import { loadEnvironment } from "../../environments";
import { STEPS } from "../../modules/orchestration";
import { Emulator, emulatorAccessKey } from "../../scripts/emulator";
import * as emulated from "../../scripts/lib/emulated";
import { synth, terraform } from "../../scripts/lib/terraform";

const config = loadEnvironment("local");
const prefix = `${config.project}-${config.name}`;
const synthDir = mkdtempSync(join(tmpdir(), "faults-synth-"));
const workDir = mkdtempSync(join(tmpdir(), "faults-work-"));
let emulator: Emulator;
let json: { resource: Record<string, Record<string, Record<string, unknown>>> };
const clients = {} as { sfn: SFNClient; sqs: SQSClient; s3: S3Client };

/** An async `lambda invoke`, with boto3 (the project's Node dependencies have no Lambda client); returns its StatusCode. */
function invokeAsync(functionName: string, payload: unknown): number {
  const code = `import boto3, json, sys\nprint(boto3.client("lambda").invoke(FunctionName=sys.argv[1], InvocationType="Event", Payload=sys.argv[2].encode())["StatusCode"])`;
  const done = spawnSync(join(__dirname, "..", "..", ".venv", "bin", "python"), ["-c", code, functionName, JSON.stringify(payload)], {
    env: { ...process.env, ...emulator.env(config.accountId, config.region) },
    encoding: "utf8",
  });
  if (done.status !== 0) throw new Error(`boto3 lambda invoke: ${done.stderr}`);
  return Number(done.stdout.trim());
}

/** The address (`type.name`) and body of the one resource of a type the predicate picks. */
function find(type: string, pick: (body: Record<string, unknown>) => boolean): { address: string; body: Record<string, unknown> } {
  const found = Object.entries(json.resource[type] ?? {}).filter(([, body]) => pick(body));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return { address: `${type}.${found[0][0]}`, body: found[0][1] };
}
const refersTo = (value: unknown, address: string) => typeof value === "string" && value.includes(`\${${address}.`);

// The first dataset with a batched pipeline, and the API function with an async destination.
let pipelineDataset: string;
let apiFunction: string;

async function queueUrl(name: string): Promise<string> {
  return (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
}

/** Messages a queue holds, waiting up to `seconds` for the first. */
async function receive(url: string, seconds: number): Promise<{ Body?: string; Attributes?: Record<string, string> }[]> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const { Messages } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, AttributeNames: ["All"] }));
    if (Messages?.length) return Messages;
    if (Date.now() > deadline) return [];
  }
}

beforeAll(async () => {
  synth(synthDir);
  json = JSON.parse(readFileSync(join(synthDir, "stacks", config.name, "cdk.tf.json"), "utf8"));
  emulator = await Emulator.start({ executeStateMachines: true, startTimeoutMs: 300_000 }); // a shared, loaded machine
  const common = {
    endpoint: emulator.endpoint,
    region: config.region,
    credentials: { accessKeyId: emulatorAccessKey(config.accountId), secretAccessKey: "emulator" },
    requestHandler: { httpsAgent: emulator.httpsAgent() },
  };
  clients.sfn = new SFNClient(common);
  clients.sqs = new SQSClient(common);
  clients.s3 = new S3Client({ ...common, forcePathStyle: true });

  // What the three chains need, found in the synthesized stack.
  const pipe = Object.values(json.resource.aws_pipes_pipe ?? {}).map((b) => b.name as string);
  pipelineDataset = DATASETS.map((d) => d.name).find((name) => pipe.includes(`${prefix}-${name}-pipeline`))!;
  if (!pipelineDataset) throw new Error(`${config.name} deploys no batched pipeline`);
  const machine = find("aws_sfn_state_machine", (b) => b.name === `${prefix}-${pipelineDataset}-pipeline`);
  const pipeResource = find("aws_pipes_pipe", (b) => b.name === `${prefix}-${pipelineDataset}-pipeline`);
  const alertsLog = find("aws_sqs_queue", (b) => b.name === `${prefix}-alerts-log`);
  const subscription = find("aws_sns_topic_subscription", (b) => refersTo(b.endpoint, alertsLog.address));
  const invokeConfig = find("aws_lambda_function_event_invoke_config", () => true);
  const fn = Object.entries(json.resource.aws_lambda_function).find(([name]) => refersTo(invokeConfig.body.function_name, `aws_lambda_function.${name}`))!;
  apiFunction = fn[1].function_name as string;
  // The raw zone's rule → buffer delivery, so an object put into raw reaches the pipe as on AWS.
  const buffer = find("aws_sqs_queue", (b) => b.name === `${prefix}-${pipelineDataset}-landed`);
  const toBuffer = find("aws_cloudwatch_event_target", (b) => refersTo(b.arn, buffer.address));
  const rawNotification = find("aws_s3_bucket_notification", (b) => b.eventbridge === true && typeof b.bucket === "string" && /raw/.test(b.bucket));

  const stack = emulated.prepareStack(synthDir, config, emulator, workDir);
  const init = emulated.init(stack);
  if (!init.ok) throw new Error(init.stderr);
  const targets = [machine, pipeResource, subscription, invokeConfig, toBuffer, rawNotification].map((r) => `-target=${r.address}`);
  const applied = terraform(["apply", "-input=false", "-auto-approve", "-parallelism=20", ...targets], stack.dir, stack.env);
  if (!applied.ok) throw new Error(`targeted apply failed:\n${applied.stderr.slice(-4000)}`);
}, 900_000);

afterAll(async () => {
  await emulator?.stop();
  rmSync(synthDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
}, 60_000);

it("a Glue job that raises: the state machine's Catch alerts on SNS, and the deployed subscription puts the alert in the alerts-log queue", async () => {
  const stateMachineArn = `arn:aws:states:${config.region}:${config.accountId}:stateMachine:${prefix}-${pipelineDataset}-pipeline`;
  // A reprocess request the deployed raw → processed job refuses: it raises before it reads anything.
  const input = JSON.stringify({ reprocess: { from: "2024-05-31", to: "2024-05-01" } });
  const { executionArn } = await clients.sfn.send(new StartExecutionCommand({ stateMachineArn, name: "job-raises", input }));
  let execution;
  for (let i = 0; i < 600; i++) {
    execution = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (execution.status !== "RUNNING") break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  expect(execution).toMatchObject({ status: "FAILED", error: "PipelineFailed" });
  expect(execution!.cause).toContain("reprocess.from 2024-05-31 is after reprocess.to 2024-05-01");

  const [alert, ...more] = await receive(await queueUrl(`${prefix}-alerts-log`), 30);
  expect(more).toEqual([]);
  expect(JSON.parse(alert.Body!)).toMatchObject({ dataset: pipelineDataset, step: STEPS.rawToProcessed, error: "States.TaskFailed", execution: executionArn });
}, 900_000);

it("a batch the Pipe cannot deliver (its target state machine is gone) ends in the landing buffer's dead-letter queue", async () => {
  await clients.sfn.send(new DeleteStateMachineCommand({ stateMachineArn: `arn:aws:states:${config.region}:${config.accountId}:stateMachine:${prefix}-${pipelineDataset}-pipeline` }));
  const raw = Object.values(json.resource.aws_s3_bucket).map((b) => b.bucket as string).find((b) => b.startsWith(`${prefix}-raw-`))!;
  const key = `${pipelineDataset}/dt=2024-05-01/undeliverable.json`;
  await clients.s3.send(new PutObjectCommand({ Bucket: raw, Key: key, Body: "{}\n" }));
  const [dead, ...more] = await receive(await queueUrl(`${prefix}-${pipelineDataset}-landed-dlq`), 120);
  expect(more).toEqual([]);
  const event = JSON.parse(dead.Body!);
  expect(event).toMatchObject({ source: "aws.s3", "detail-type": "Object Created", detail: { bucket: { name: raw }, object: { key } } });
  expect(Number(dead.Attributes!.ApproximateReceiveCount)).toBeGreaterThanOrEqual(config.orchestration.maxReceiveCount);
}, 300_000);

it("an async Lambda invocation that fails goes, after Lambda's retries, to the function's on-failure destination", async () => {
  const payload = { startUrl: 42 }; // the handler refuses it: startUrl must be a URL string
  expect(invokeAsync(apiFunction, payload)).toBe(202);
  const [record, ...more] = await receive(await queueUrl(`${prefix}-ingest-dlq`), 120);
  expect(more).toEqual([]);
  const body = JSON.parse(record.Body!);
  expect(body).toMatchObject({
    requestContext: { condition: "RetriesExhausted", functionArn: expect.stringContaining(`:function:${apiFunction}`) },
    requestPayload: payload,
    responseContext: { functionError: "Unhandled" },
  });
  expect(JSON.stringify(body.responsePayload)).toContain("event.startUrl must be a URL string");
}, 300_000);
