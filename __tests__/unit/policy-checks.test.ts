/**
 * The policy-scan exceptions: how a skip is recorded next to its resource, what the helper refuses,
 * and how the scan judges checkov's findings against the skips (without running checkov; the
 * integration test runs it).
 */
import { Testing, TerraformStack } from "cdktf";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { policySkipsOf, skipPolicyCheck } from "../../modules/shared/policy-checks";
import { judge, recordedSkips, renderSkipTable, skipTable } from "../../scripts/lib/policy-scan";
import { synthAllWithMetadata } from "../helpers/synth";

describe("skipPolicyCheck", () => {
  it("writes checkov's own suppression comment into the resource's comment block, next to its construct metadata", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const bucket = new S3Bucket(stack, "b", { bucket: "x" });
    skipPolicyCheck(bucket, "CKV_AWS_144", "one region on purpose, for this test");
    skipPolicyCheck(bucket, "CKV2_AWS_62", "nothing reacts to this test bucket's events");
    const body = stack.toTerraform().resource.aws_s3_bucket[bucket.friendlyUniqueId];
    expect(body["//"].checkov).toEqual([
      "checkov:skip=CKV_AWS_144:one region on purpose, for this test",
      "checkov:skip=CKV2_AWS_62:nothing reacts to this test bucket's events",
    ]);
    expect(body["//"].metadata.path).toBe("t/b");
    expect(policySkipsOf(body)).toEqual([
      { check: "CKV_AWS_144", reason: "one region on purpose, for this test" },
      { check: "CKV2_AWS_62", reason: "nothing reacts to this test bucket's events" },
    ]);
  });

  it("refuses a short or multi-line reason, an unlisted check, and a second, different reason for one check", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const bucket = new S3Bucket(stack, "b", { bucket: "x" });
    expect(() => skipPolicyCheck(bucket, "CKV_AWS_144", "because")).toThrow(
      "t/b: skipping CKV_AWS_144 needs a one-line reason of at least 20 characters",
    );
    expect(() => skipPolicyCheck(bucket, "CKV_AWS_144", "a reason that is long enough\nbut has two lines")).toThrow(
      "one-line reason",
    );
    expect(() => skipPolicyCheck(bucket, "CKV_AWS_18" as never, "access logging is elsewhere, says the test")).toThrow(
      "t/b: CKV_AWS_18 is not a known skippable policy check",
    );
    skipPolicyCheck(bucket, "CKV_AWS_144", "one region on purpose, for this test");
    skipPolicyCheck(bucket, "CKV_AWS_144", "one region on purpose, for this test"); // the same decision again: no-op
    expect(() => skipPolicyCheck(bucket, "CKV_AWS_144", "another explanation for the same check")).toThrow(
      "t/b: CKV_AWS_144 is already skipped for another reason",
    );
  });

  it("reads nothing from a resource without skips and refuses a malformed comment", () => {
    expect(policySkipsOf({ "//": { metadata: {} } })).toEqual([]);
    expect(() => policySkipsOf({ "//": { checkov: ["skip CKV_AWS_144 please"] } })).toThrow(
      "not a checkov skip comment",
    );
  });
});

describe("judging checkov's report against the skips", () => {
  const json = {
    resource: {
      aws_s3_bucket: {
        a_1: {
          "//": {
            metadata: { path: "s/lake/a" },
            checkov: [
              "checkov:skip=CKV_AWS_144:one region on purpose, for this test",
              "checkov:skip=CKV_AWS_145:this one never fails here",
            ],
          },
        },
        b_2: { "//": { metadata: { path: "s/lake/b" } } },
      },
    },
  };
  const record = (check_id: string, resource: string) => ({
    check_id,
    check_name: `${check_id} title`,
    resource,
    file_line_range: [1, 2] as [number, number],
  });

  it("accepts a finding only on the resource that skips it; the rest fail, and an unused skip is stale", () => {
    // checkov names Python-check resources "resource.<name>" and graph-check resources "<type>.<name>".
    const result = judge(json, {
      version: "x",
      passed: 10,
      failed: [record("CKV_AWS_144", "resource.a_1"), record("CKV_AWS_144", "aws_s3_bucket.b_2")],
    });
    expect(result.accepted).toEqual([
      {
        check: "CKV_AWS_144",
        title: "CKV_AWS_144 title",
        address: "aws_s3_bucket.a_1",
        path: "lake/a",
        reason: "one region on purpose, for this test",
      },
    ]);
    expect(result.findings).toEqual([
      { check: "CKV_AWS_144", title: "CKV_AWS_144 title", address: "aws_s3_bucket.b_2", path: "lake/b" },
    ]);
    expect(result.staleSkips).toEqual([
      { check: "CKV_AWS_145", address: "aws_s3_bucket.a_1", path: "lake/a", reason: "this one never fails here" },
    ]);
  });

  it("refuses a report about a resource the stack does not have", () => {
    expect(() => judge(json, { version: "x", passed: 0, failed: [record("CKV_AWS_1", "aws_s3_bucket.zzz")] })).toThrow(
      "not a resource of the stack",
    );
  });
});

describe("the skip table of docs/security.md", () => {
  const envs = synthAllWithMetadata();
  const rows = skipTable(envs.map((e) => ({ name: e.config.name, json: e.json })));

  it("lists every skip of every environment exactly once", () => {
    for (const { config, json } of envs) {
      for (const skip of recordedSkips(json)) {
        const row = rows.find((r) => r.check === skip.check && r.reason === skip.reason);
        expect({
          skip,
          listed: row?.resources.find((res) => res.path === skip.path)?.environments.includes(config.name),
        }).toEqual({ skip, listed: true });
      }
    }
    const text = renderSkipTable(
      rows,
      envs.map((e) => e.config.name),
    );
    expect(text.split("\n")).toHaveLength(rows.length + 2);
  });

  it("records the skips that depend on configuration only where it applies: short log retention outside prod, no execution data in prod", () => {
    const where = (check: string) =>
      [
        ...new Set(
          rows.filter((r) => r.check === check).flatMap((r) => r.resources.flatMap((res) => res.environments)),
        ),
      ].sort();
    expect(where("CKV_AWS_338")).toEqual(["dev", "local", "staging"]);
    expect(where("CKV_AWS_285")).toEqual(["prod"]);
  });
});
