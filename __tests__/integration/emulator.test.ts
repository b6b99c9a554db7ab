import { EventBridgeClient, TestEventPatternCommand } from "@aws-sdk/client-eventbridge";
import { CreateBucketCommand, ListBucketsCommand, S3Client } from "@aws-sdk/client-s3";
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListStateMachineVersionsCommand,
  SFNClient,
  StartExecutionCommand,
  ValidateStateMachineDefinitionCommand,
} from "@aws-sdk/client-sfn";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { Emulator, emulatorAccessKey } from "../../scripts/emulator";
import { defined } from "../../modules/shared/defined";

let emulator: Emulator;
// The emulator's own start limit (60 s) decides; jest's 5 s default is too short on a loaded machine.
beforeAll(async () => {
  emulator = await Emulator.start({ executeStateMachines: true });
}, 90_000);
afterAll(() => emulator?.stop());

function clientConfig(accountId = "123456789012") {
  return {
    endpoint: emulator.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: emulatorAccessKey(accountId), secretAccessKey: "emulator" },
    requestHandler: { httpsAgent: emulator.httpsAgent() },
  };
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });

it("serves over TLS on a loopback port and answers its health check", async () => {
  expect(emulator.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  expect(await emulator.healthy()).toBe(true);
  const identity = await new STSClient(clientConfig()).send(new GetCallerIdentityCommand({}));
  expect(identity.Account).toBe("123456789012");
});

it("refuses plain HTTP on the client port", async () => {
  const answer = await new Promise<string>((resolve) => {
    const req = httpRequest(`http://127.0.0.1:${emulator.port}/`, (res) => resolve(`HTTP ${res.statusCode}`));
    req.on("error", (e) => resolve(`error ${(e as NodeJS.ErrnoException).code}`));
    req.end();
  });
  // Werkzeug's TLS socket answers a plain request with 400 or drops it; it never serves it.
  expect(answer).toMatch(/^(HTTP 400|error (ECONNRESET|EPROTO))$/);
});

it("acts as the account its access key names", async () => {
  const prodIdentity = await new STSClient(clientConfig("333333333333")).send(new GetCallerIdentityCommand({}));
  expect(prodIdentity.Account).toBe("333333333333");
  await new S3Client(clientConfig("333333333333")).send(new CreateBucketCommand({ Bucket: "only-in-prod-account" }));
  const devBuckets = await new S3Client(clientConfig("111111111111")).send(new ListBucketsCommand({}));
  expect((devBuckets.Buckets ?? []).map((b) => b.Name)).not.toContain("only-in-prod-account");
});

it("implements ValidateStateMachineDefinition (moto lacks it)", async () => {
  const sfn = new SFNClient(clientConfig());
  const ok = await sfn.send(
    new ValidateStateMachineDefinitionCommand({
      definition: JSON.stringify({ StartAt: "A", States: { A: { Type: "Succeed" } } }),
    }),
  );
  expect(ok.result).toBe("OK");
  const bad = await sfn.send(
    new ValidateStateMachineDefinitionCommand({
      definition: JSON.stringify({ StartAt: "A", States: { A: { Type: "Pass", Next: "B" } } }),
    }),
  );
  expect(bad.result).toBe("FAIL");
  expect(bad.diagnostics?.map((d) => d.message)).toEqual(["state 'A' goes to undefined 'B'"]);
});

it("implements TestEventPattern with the matcher moto routes with, and refuses an event AWS would refuse", async () => {
  const events = new EventBridgeClient(clientConfig());
  const pattern = JSON.stringify({ source: ["aws.s3"], detail: { object: { key: [{ prefix: "orders/" }] } } });
  const event = (key: string) => ({
    id: "1",
    account: "123456789012",
    source: "aws.s3",
    time: "2024-05-01T00:00:00Z",
    region: "us-east-1",
    "detail-type": "Object Created",
    detail: { object: { key } },
  });
  expect(
    (
      await events.send(
        new TestEventPatternCommand({ EventPattern: pattern, Event: JSON.stringify(event("orders/a")) }),
      )
    ).Result,
  ).toBe(true);
  expect(
    (await events.send(new TestEventPatternCommand({ EventPattern: pattern, Event: JSON.stringify(event("other/a")) })))
      .Result,
  ).toBe(false);
  const { id: _id, ...withoutId } = event("orders/a");
  await expect(
    events.send(new TestEventPatternCommand({ EventPattern: pattern, Event: JSON.stringify(withoutId) })),
  ).rejects.toThrow("Parameter Event is not valid.");
});

it("implements ListStateMachineVersions (the provider reads it after creating a state machine)", async () => {
  const sfn = new SFNClient(clientConfig());
  const definition = JSON.stringify({ StartAt: "P", States: { P: { Type: "Pass", End: true } } });
  const plain = await sfn.send(
    new CreateStateMachineCommand({ name: "unversioned", roleArn: "arn:aws:iam::123456789012:role/any", definition }),
  );
  expect(
    (await sfn.send(new ListStateMachineVersionsCommand({ stateMachineArn: plain.stateMachineArn })))
      .stateMachineVersions,
  ).toEqual([]);
  const published = await sfn.send(
    new CreateStateMachineCommand({
      name: "versioned",
      roleArn: "arn:aws:iam::123456789012:role/any",
      definition,
      publish: true,
    }),
  );
  const versions =
    (await sfn.send(new ListStateMachineVersionsCommand({ stateMachineArn: published.stateMachineArn })))
      .stateMachineVersions ?? [];
  expect(versions.map((v) => v.stateMachineVersionArn)).toEqual([`${published.stateMachineArn}:1`]);
});

it("runs a state machine more than once on one server (moto 5.2.1 failed the second StartExecution)", async () => {
  const sfn = new SFNClient(clientConfig());
  const { stateMachineArn } = await sfn.send(
    new CreateStateMachineCommand({
      name: "twice",
      roleArn: "arn:aws:iam::123456789012:role/any",
      definition: JSON.stringify({ StartAt: "P", States: { P: { Type: "Pass", Result: { ok: true }, End: true } } }),
    }),
  );
  for (let run = 0; run < 2; run++) {
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, input: "{}" }));
    let status = "RUNNING";
    for (let i = 0; i < 50 && status === "RUNNING"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = defined(
        (await sfn.send(new DescribeExecutionCommand({ executionArn }))).status,
        "the execution's status",
      );
    }
    expect(status).toBe("SUCCEEDED");
  }
});

it("dies with the process that started it, even when that process is killed", async () => {
  const child = spawn(
    process.execPath,
    [
      join(__dirname, "..", "..", "node_modules", "tsx", "dist", "cli.mjs"),
      join(__dirname, "..", "fixtures", "orphan-emulator.ts"),
    ],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const endpoint = await new Promise<string>((resolve) =>
    defined(child.stdout, "the emulator process's stdout").once("data", (d) => resolve(String(d).trim())),
  );
  const port = Number(new URL(endpoint).port);
  await new Promise((r) => child.once("exit", r));
  let open = true;
  for (let i = 0; i < 100 && open; i++) {
    await new Promise((r) => setTimeout(r, 100));
    open = await portOpen(port);
  }
  expect(open).toBe(false);
}, 60_000); // the fixture starts a whole emulator first (moto's import alone takes seconds on a busy machine)
