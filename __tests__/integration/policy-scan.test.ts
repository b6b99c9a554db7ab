/**
 * Policy as code: the real checkov (pinned, from .venv-policy) over every environment's synthesized
 * stack finds nothing that is not accepted by a skip on its own resource, and no skip is stale.
 * The scan is shown to fail on a finding and on a stale skip, on a copy of a real stack.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEnvironments } from "../../environments";
import { SKIPPABLE_POLICY_CHECKS } from "../../modules/shared/policy-checks";
import {
  CHECKOV,
  recordedSkips,
  requireCheckov,
  scanStack,
  type PolicyScanResult,
} from "../../scripts/lib/policy-scan";
import { readStacks, type SynthesizedStack } from "../../scripts/lib/stacks";
import { ROOT, synth } from "../../scripts/lib/terraform";
import { defined } from "../../modules/shared/defined";

// Fails the whole file, with how to install it, when checkov is missing.
requireCheckov();

const outdir = mkdtempSync(join(tmpdir(), "policy-scan-"));
let stacks: SynthesizedStack[];
const results = new Map<string, PolicyScanResult>();

beforeAll(() => {
  synth(outdir);
  stacks = readStacks(outdir);
  for (const stack of stacks) results.set(stack.name, scanStack(stack.dir, stack.json));
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const names = loadEnvironments().map((e) => e.name);
/** The version requirements/policy.in pins (the hashed lock installs exactly it). */
const pinned = defined(
  /^checkov==(\S+)$/m.exec(readFileSync(join(ROOT, "requirements", "policy.in"), "utf8")),
  "the pinned checkov version in requirements/policy.in",
)[1];

it("scans every environment", () => {
  expect(stacks.map((s) => s.name).sort()).toEqual([...names].sort());
  expect(existsSync(CHECKOV)).toBe(true);
});

describe.each(names)("%s", (name) => {
  it(`checkov ${pinned} (the pinned version) ran its checks over the stack`, () => {
    const result = defined(results.get(name), `the ${name} scan result`);
    expect(result.checkovVersion).toBe(pinned);
    expect(result.passed).toBeGreaterThan(400);
  });

  it("has zero findings", () => {
    expect(defined(results.get(name), `the ${name} scan result`).findings).toEqual([]);
  });

  it("has no stale skip: every skip accepts a finding on its own resource", () => {
    expect(defined(results.get(name), `the ${name} scan result`).staleSkips).toEqual([]);
  });

  it("accepts only listed checks, each for a stated reason", () => {
    const { accepted } = defined(results.get(name), `the ${name} scan result`);
    expect(accepted.length).toBeGreaterThan(0);
    for (const a of accepted) {
      expect(Object.keys(SKIPPABLE_POLICY_CHECKS)).toContain(a.check);
      expect(a.reason.length).toBeGreaterThanOrEqual(20);
    }
    // Every recorded skip was used, so the accepted findings are exactly the skips.
    const skips = recordedSkips(
      defined(
        stacks.find((s) => s.name === name),
        `the ${name} stack`,
      ).json,
    );
    expect(accepted.map((a) => `${a.address} ${a.check}`).sort()).toEqual(
      skips.map((s) => `${s.address} ${s.check}`).sort(),
    );
  });
});

it("fails on a finding whose resource has no skip, and on a skip that accepts nothing", () => {
  const dev = defined(
    stacks.find((s) => s.name === "dev"),
    "the dev stack",
  );
  const json = structuredClone(dev.json);
  const buckets = defined(json.resource, "the dev stack's resources").aws_s3_bucket;
  const raw = defined(
    Object.keys(buckets).find((n) => n.startsWith("lake_raw_bucket_")),
    "the raw bucket",
  );
  const consumer = defined(
    Object.keys(buckets).find((n) => n.startsWith("lake_consumer_bucket_")),
    "the consumer bucket",
  );
  // The raw bucket loses its replication skip; the consumer bucket (which has a KMS key) gains a
  // skip for "encrypted with KMS", which does not fail there.
  const metadata = (bucket: string) => buckets[bucket]["//"] as { checkov: string[] };
  metadata(raw).checkov = metadata(raw).checkov.filter((c) => !c.startsWith("checkov:skip=CKV_AWS_144:"));
  metadata(consumer).checkov.push("checkov:skip=CKV_AWS_145:the consumer zone does not need KMS (a wrong claim)");
  const dir = join(outdir, "tampered", "dev");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "cdk.tf.json"), JSON.stringify(json, null, 2));

  const result = scanStack(dir, json);
  expect(result.findings).toEqual([
    expect.objectContaining({ check: "CKV_AWS_144", address: `aws_s3_bucket.${raw}`, path: "lake/raw/bucket" }),
  ]);
  expect(result.staleSkips).toEqual([
    expect.objectContaining({
      check: "CKV_AWS_145",
      address: `aws_s3_bucket.${consumer}`,
      path: "lake/consumer/bucket",
    }),
  ]);
});
