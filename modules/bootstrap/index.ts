/**
 * The state bucket of a new account: what an environment's S3 backend needs before its first
 * `terraform init`. Applied once per account with local state (`npm run bootstrap:state -- <env>`);
 * it uses the same SecureBucket baseline as the lake, plus prevent_destroy: losing state orphans
 * every resource the platform manages.
 */
import { Aspects, LocalBackend, TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import type { EnvironmentConfig } from "../../environments";
import { EncryptionKey } from "../shared/encryption-key";
import { Naming } from "../shared/naming";
import { DataProtectionAspect } from "../shared/protection";
import { configureProvider } from "../shared/provider";
import { SecureBucket } from "../shared/secure-bucket";
import { TaggingAspect, requiredTags } from "../shared/tagging";

/** Old state versions kept for recovery after a bad apply. */
const STATE_VERSION_RETENTION_DAYS = 90;

export class StateBootstrapStack extends TerraformStack {
  readonly stateBucket: SecureBucket;

  constructor(scope: Construct, config: EnvironmentConfig) {
    super(scope, `${config.name}-state`);
    if (config.state.backend !== "s3" || !config.accountId) {
      throw new Error(
        `${config.name}: state.backend is "${config.state.backend}"; only S3 backends need a state bucket`,
      );
    }
    const tags = { ...config.tags, ...requiredTags(config) };
    new LocalBackend(this, { path: `${config.name}-state.tfstate` });
    configureProvider(this, { ...config, region: config.state.region }, tags);
    Aspects.of(this).add(new TaggingAspect(tags));
    // The state bucket, its log bucket and its key hold what no apply can recreate.
    Aspects.of(this).add(new DataProtectionAspect());

    const naming = new Naming({
      project: config.project,
      environment: config.name,
      accountId: config.accountId,
      region: config.state.region,
    });
    const base = { accountId: config.accountId };
    const key = new EncryptionKey(this, "key", { naming, purpose: "tfstate", region: config.state.region, ...base });
    const logs = new SecureBucket(this, "logs", {
      bucketName: naming.bucket("tfstate-logs"),
      lifecycle: { expireAfterDays: config.lake.accessLogRetentionDays },
      noncurrentVersionExpirationDays: 30, // a month to recover an overwritten log object; nothing rewrites them
      unusedObjectEventsReason:
        "access logs of the state bucket, read when auditing; nothing reacts to a new log object",
      ...base,
    });
    this.stateBucket = new SecureBucket(this, "state", {
      bucketName: config.state.bucket,
      encryptionKey: key,
      accessLogs: { bucket: logs, prefix: "tfstate/" },
      noncurrentVersionExpirationDays: STATE_VERSION_RETENTION_DAYS,
      unusedObjectEventsReason: "Terraform reads and writes its state and lock file here; a state write starts nothing",
      ...base,
    });
    new TerraformOutput(this, "state_bucket_name", { value: this.stateBucket.bucketName });
    new TerraformOutput(this, "state_kms_key_arn", { value: key.arn });
  }
}
