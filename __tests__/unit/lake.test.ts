import { ZONES } from "../../datasets";
import { asArray, attachedTo, parsePolicy, resources, synthAll, synthNamed, TerraformJson } from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

const ref = (type: string, name: string) => `${type}.${name}`;

function buckets(json: TerraformJson) {
  return resources(json, "aws_s3_bucket").map((b) => ({ ...b, ref: ref("aws_s3_bucket", b.name) }));
}

/** A bucket lifecycle rule as synthesized: the fields these tests read. */
interface LifecycleRule {
  id: string;
  transition?: { storage_class: string; days: number }[];
  expiration?: { days: number }[];
  abort_incomplete_multipart_upload?: unknown;
  noncurrent_version_expiration?: unknown;
}

/** The single resource of `type` attached to a bucket. */
function one(json: TerraformJson, type: string, bucketRef: string) {
  const found = attachedTo(json, type, bucketRef);
  expect(found).toHaveLength(1);
  return found[0].body;
}

describe.each(synthAll().map((e) => [e.config.name, e.json] as const))("%s: every bucket", (_env, json) => {
  const all = buckets(json);

  it("has a lake zone bucket per zone plus the access-log bucket", () => {
    const names = all.map((b) => b.body.bucket as string);
    for (const zone of ZONES) expect(names.some((n) => n.includes(`-${zone}-`))).toBe(true);
    expect(names.some((n) => n.includes("-access-logs-"))).toBe(true);
  });

  it.each(all.map((b) => [b.body.bucket as string, b.ref]))(
    "%s: versioning, public access block, ACLs off",
    (_n, bucketRef) => {
      expect(one(json, "aws_s3_bucket_versioning", bucketRef).versioning_configuration).toEqual({ status: "Enabled" });
      expect(one(json, "aws_s3_bucket_public_access_block", bucketRef)).toMatchObject({
        block_public_acls: true,
        block_public_policy: true,
        ignore_public_acls: true,
        restrict_public_buckets: true,
      });
      expect(one(json, "aws_s3_bucket_ownership_controls", bucketRef).rule).toEqual({
        object_ownership: "BucketOwnerEnforced",
      });
    },
  );

  it.each(all.map((b) => [b.body.bucket as string, b.ref]))("%s: TLS-only policy and encryption", (name, bucketRef) => {
    const statements = parsePolicy(one(json, "aws_s3_bucket_policy", bucketRef).policy).Statement;
    const tls = statements.find((s) => s.Sid === "DenyInsecureTransport");
    expect(tls).toEqual({
      Sid: "DenyInsecureTransport",
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Resource: [`\${${bucketRef}.arn}`, `\${${bucketRef}.arn}/*`],
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
    const sse = one(json, "aws_s3_bucket_server_side_encryption_configuration", bucketRef).rule[0];
    if (name.includes("-access-logs-")) {
      // S3 server access log delivery only writes to SSE-S3 buckets.
      expect(sse.apply_server_side_encryption_by_default).toEqual({ sse_algorithm: "AES256" });
      return;
    }
    expect(sse.apply_server_side_encryption_by_default.sse_algorithm).toBe("aws:kms");
    const keyArn = sse.apply_server_side_encryption_by_default.kms_master_key_id as string;
    expect(keyArn).toMatch(/^\$\{aws_kms_key\..+\.arn\}$/);
    expect(sse.bucket_key_enabled).toBe(true);
    const otherEncryption = statements.find((s) => s.Sid === "DenyOtherEncryption");
    expect(otherEncryption).toMatchObject({
      Effect: "Deny",
      Action: "s3:PutObject",
      Condition: { StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" } },
    });
    const otherKey = statements.find((s) => s.Sid === "DenyOtherKmsKey");
    expect(otherKey.Condition.StringNotEquals).toEqual({ "s3:x-amz-server-side-encryption-aws-kms-key-id": keyArn });
  });

  it.each(all.map((b) => [b.body.bucket as string, b.ref]))(
    "%s: server access logging (except the log bucket itself)",
    (name, bucketRef) => {
      const logging = attachedTo(json, "aws_s3_bucket_logging", bucketRef);
      if (name.includes("-access-logs-")) {
        expect(logging).toHaveLength(0);
        return;
      }
      expect(logging).toHaveLength(1);
      const logBucket = defined(
        all.find((b) => (b.body.bucket as string).includes("-access-logs-")),
        "the access-logs bucket",
      );
      expect(logging[0].body.target_bucket).toBe(`\${${logBucket.ref}.id}`);
    },
  );

  it("gives each zone its own KMS key with rotation on", () => {
    const keys = resources(json, "aws_kms_key");
    const zoneKeys = all
      .filter((b) => ZONES.some((zone) => (b.body.bucket as string).includes(`-${zone}-`))) // other modules' buckets have their own keys
      .map(
        (b) =>
          one(json, "aws_s3_bucket_server_side_encryption_configuration", b.ref).rule[0]
            .apply_server_side_encryption_by_default.kms_master_key_id,
      );
    expect(new Set(zoneKeys).size).toBe(ZONES.length);
    for (const key of keys) {
      expect(key.body.enable_key_rotation).toBe(true);
      expect(key.body.deletion_window_in_days).toBe(30);
    }
  });

  it("lets S3 log delivery write access logs only for our own buckets and account", () => {
    const logBucket = defined(
      all.find((b) => (b.body.bucket as string).includes("-access-logs-")),
      "the access-logs bucket",
    );
    const statements = parsePolicy(one(json, "aws_s3_bucket_policy", logBucket.ref).policy).Statement.filter(
      (s) => s.Principal?.Service === "logging.s3.amazonaws.com",
    );
    const sources = statements.map((s) => s.Condition.ArnLike["aws:SourceArn"]).sort();
    const zoneArns = all
      .filter((b) => b !== logBucket)
      .map((b) => `\${${b.ref}.arn}`)
      .sort();
    expect(sources).toEqual(zoneArns);
    for (const s of statements) expect(s.Condition.StringEquals["aws:SourceAccount"]).toMatch(/^\d{12}$/);
  });

  it("sends raw-zone object events, and only those, to EventBridge", () => {
    const notifications = resources(json, "aws_s3_bucket_notification");
    expect(notifications).toHaveLength(1);
    expect(notifications[0].body.eventbridge).toBe(true);
    const raw = defined(
      all.find((b) => (b.body.bucket as string).includes("-raw-")),
      "the raw bucket",
    );
    expect(notifications[0].body.bucket).toBe(`\${${raw.ref}.id}`);
  });
});

describe("lifecycle tiers come from the environment config", () => {
  it.each(synthAll().map((e) => [e.config.name, e] as const))("%s", (_env, { config, json }) => {
    for (const zone of ZONES) {
      const bucket = defined(
        buckets(json).find((b) => (b.body.bucket as string).includes(`-${zone}-`)),
        `the ${zone} bucket`,
      );
      const rules = one(json, "aws_s3_bucket_lifecycle_configuration", bucket.ref).rule as LifecycleRule[];
      const current = defined(
        rules.find((r) => r.id === "current-versions"),
        `the ${zone} bucket's current-versions rule`,
      );
      const tiering = config.lake.lifecycle[zone];
      const transitions = asArray(current.transition).map((t) => [t.storage_class, t.days]);
      expect(transitions).toEqual([
        ...(tiering.infrequentAccessAfterDays ? [["STANDARD_IA", tiering.infrequentAccessAfterDays]] : []),
        ...(tiering.archiveAfterDays ? [["GLACIER_IR", tiering.archiveAfterDays]] : []),
      ]);
      expect(asArray(current.expiration).map((e) => e.days)).toEqual(
        tiering.expireAfterDays ? [tiering.expireAfterDays] : [],
      );
      expect(current.abort_incomplete_multipart_upload).toEqual([{ days_after_initiation: 7 }]);
      const noncurrent = defined(
        rules.find((r) => r.id === "noncurrent-versions"),
        `the ${zone} bucket's noncurrent-versions rule`,
      );
      expect(noncurrent.noncurrent_version_expiration).toEqual([
        { noncurrent_days: config.lake.noncurrentVersionExpirationDays },
      ]);
    }
  });

  it("prod keeps raw data seven years, dev one", () => {
    const days = (env: string) => {
      const { json } = synthNamed(env);
      const raw = defined(
        buckets(json).find((b) => (b.body.bucket as string).includes("-raw-")),
        "the raw bucket",
      );
      const rules = one(json, "aws_s3_bucket_lifecycle_configuration", raw.ref).rule as LifecycleRule[];
      const current = defined(
        rules.find((r) => r.id === "current-versions"),
        "the raw bucket's current-versions rule",
      );
      return defined(current.expiration, "the raw bucket's expiration")[0].days;
    };
    expect([days("dev"), days("prod")]).toEqual([365, 2555]);
  });
});

describe("protection", () => {
  it("prod data buckets and keys are prevent_destroy and never force-destroyed", () => {
    const { json } = synthNamed("prod");
    for (const b of resources(json, "aws_s3_bucket")) {
      expect(b.body.force_destroy).toBe(false);
      expect(b.body.lifecycle).toEqual({ prevent_destroy: true });
    }
    for (const k of resources(json, "aws_kms_key")) expect(k.body.lifecycle).toEqual({ prevent_destroy: true });
  });

  it("dev buckets can be disposed of: force_destroy on, no prevent_destroy", () => {
    const { json } = synthNamed("dev");
    for (const b of resources(json, "aws_s3_bucket")) {
      expect(b.body.force_destroy).toBe(true);
      expect(b.body.lifecycle).toBeUndefined();
    }
    for (const k of resources(json, "aws_kms_key")) expect(k.body.lifecycle).toBeUndefined();
  });

  it("staging keeps data on destroy mistakes without prevent_destroy", () => {
    const { json } = synthNamed("staging");
    for (const b of resources(json, "aws_s3_bucket")) {
      expect(b.body.force_destroy).toBe(false);
      expect(b.body.lifecycle).toBeUndefined();
    }
  });
});
