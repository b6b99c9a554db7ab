/**
 * The real terraform against the emulator: `local` applied (every resource created, a second
 * plan empty, TLS-only policies enforced), and dev/staging/prod planned with their real config,
 * each as its own account — and refused as any other account. All against the run's shared local
 * cloud: `local` was applied once by the `cloud` jest project's global setup, in the stack
 * directory the cdktf CLI uses; dev/staging/prod are planned from working copies of the same synth.
 */
import { PutObjectCommand, PutObjectCommandInput, S3Client } from "@aws-sdk/client-s3";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEnvironment } from "../../environments";
import { emulatorAccessKey } from "../../scripts/emulator";
import * as emulated from "../../scripts/lib/emulated";
import { sharedLocalCloud } from "../helpers/local-cloud";

// terraform calls take tens of seconds on a loaded 2-core machine; jest's 5 s default is not a test of anything.
jest.setTimeout(600_000);

const cloud = sharedLocalCloud();
const emulator = cloud.emulator;
const synthDir = cloud.synthDir;
// Working copies of dev/staging/prod of this file only.
const workDir = mkdtempSync(join(tmpdir(), "emulated-work-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const resourceCount = (env: string) =>
  Object.values(
    JSON.parse(readFileSync(join(synthDir, "stacks", env, "cdk.tf.json"), "utf8")).resource as Record<string, object>,
  ).reduce((n, byName) => n + Object.keys(byName).length, 0);

describe("local", () => {
  const stack = cloud.stack;

  it("terraform apply created every resource of the stack, in the state the cdktf CLI uses", () => {
    expect(stack.dir).toBe(join(synthDir, "stacks", "local"));
    expect(emulated.stateResources(stack)).toHaveLength(resourceCount("local"));
    expect(cloud.resources).toBe(resourceCount("local"));
  });

  it("a second plan reports no changes", () => {
    const result = emulated.plan(stack);
    expect({ status: result.status, line: emulated.planLine(result) }).toEqual({
      status: 0,
      line: expect.stringMatching(/^No changes\./),
    });
  });

  describe("the lake's bucket policies hold", () => {
    const client = (endpoint: string) =>
      new S3Client({
        endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        credentials: { accessKeyId: emulatorAccessKey(), secretAccessKey: "emulator" },
        ...(endpoint.startsWith("https") ? { requestHandler: { httpsAgent: emulator.httpsAgent() } } : {}),
      });
    // One `terraform output` for the three cases.
    let outputsCache: Record<string, { value: string }> | undefined;
    const outputs = () =>
      (outputsCache ??= JSON.parse(emulated.terraformOutputJson(stack)) as Record<string, { value: string }>);
    const put = (endpoint: string, extra: Partial<PutObjectCommandInput> = {}) => {
      return client(endpoint)
        .send(
          new PutObjectCommand({
            Bucket: outputs().lake_raw_bucket_name.value,
            Key: "probe.json",
            Body: "{}",
            ...extra,
          }),
        )
        .then(
          () => "stored",
          (e: { $metadata?: { httpStatusCode?: number } }) => `refused ${e.$metadata?.httpStatusCode}`,
        );
    };
    const rawKey = () => outputs().lake_raw_kms_key_arn.value;

    it("plain HTTP is refused (TLS only)", async () => {
      expect(await put(emulator.insecureEndpoint)).toBe("refused 403");
    });

    it("over TLS, a write with no encryption headers gets the zone key; one naming the zone key is stored", async () => {
      expect(await put(emulator.endpoint)).toBe("stored");
      expect(await put(emulator.endpoint, { ServerSideEncryption: "aws:kms", SSEKMSKeyId: rawKey() })).toBe("stored");
    });

    it("a write asking for other encryption, or another key, is refused", async () => {
      expect(await put(emulator.endpoint, { ServerSideEncryption: "AES256" })).toBe("refused 403");
      const otherKey = outputs().lake_processed_kms_key_arn.value;
      expect(await put(emulator.endpoint, { ServerSideEncryption: "aws:kms", SSEKMSKeyId: otherKey })).toBe(
        "refused 403",
      );
    });
  });
});

describe.each(["dev", "staging", "prod"])("%s", (name) => {
  it("plans with its real configuration against the emulator, as its own account", () => {
    const stack = emulated.prepareStack(synthDir, loadEnvironment(name), emulator, workDir);
    expect(emulated.init(stack).ok).toBe(true);
    const result = emulated.plan(stack);
    expect({ status: result.status, line: emulated.planLine(result) }).toEqual({
      status: 2,
      line: `Plan: ${resourceCount(name)} to add, 0 to change, 0 to destroy.`,
    });
  });
});

it("allowed_account_ids stops the prod config from being applied to another account", () => {
  const prod = loadEnvironment("prod");
  const stack = emulated.prepareStack(synthDir, prod, emulator, workDir);
  const wrongAccount = { ...stack, env: emulator.env("999999999999", prod.region) };
  expect(emulated.init(wrongAccount).ok).toBe(true);
  const result = emulated.plan(wrongAccount);
  expect(result.status).toBe(1);
  expect(result.stderr).toContain("AWS account ID not allowed: 999999999999");
});
