/**
 * One environment's stack: the provider and backend, the tagging aspect, and the modules wired
 * together by passing references. This is the only place environment config becomes module props.
 */
import { Aspects, TerraformOutput, TerraformStack } from "cdktf";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { Construct } from "constructs";
import type { EnvironmentConfig } from "../environments";
import { Lake, ZONES } from "./lake";
import { Naming } from "./shared/naming";
import { configureBackend, configureProvider } from "./shared/provider";
import { TaggingAspect, requiredTags } from "./shared/tagging";

export class PlatformStack extends TerraformStack {
  readonly config: EnvironmentConfig;
  readonly naming: Naming;
  /** The environment's account id (from config; read from the caller identity where config omits it). */
  readonly accountId: string;
  readonly lake: Lake;

  constructor(scope: Construct, config: EnvironmentConfig) {
    super(scope, config.name);
    this.config = config;
    const tags = { ...config.tags, ...requiredTags(config) };

    configureBackend(this, config);
    configureProvider(this, config, tags);
    Aspects.of(this).add(new TaggingAspect(tags));

    this.accountId = config.accountId ?? new DataAwsCallerIdentity(this, "current").accountId;
    this.naming = new Naming({ project: config.project, environment: config.name, accountId: config.accountId, region: config.region });
    const base = { naming: this.naming, accountId: this.accountId, region: config.region };

    this.lake = new Lake(this, "lake", {
      ...base,
      lifecycle: config.lake.lifecycle,
      noncurrentVersionExpirationDays: config.lake.noncurrentVersionExpirationDays,
      accessLogRetentionDays: config.lake.accessLogRetentionDays,
      forceDestroy: config.protection.forceDestroy,
      preventDestroy: config.protection.preventDestroy,
    });

    for (const zone of ZONES) {
      new TerraformOutput(this, `lake_${zone}_bucket_name`, { value: this.lake.zones[zone].bucket.bucketName });
      new TerraformOutput(this, `lake_${zone}_kms_key_arn`, { value: this.lake.zones[zone].key.arn });
    }
    new TerraformOutput(this, "lake_access_logs_bucket_name", { value: this.lake.accessLogs.bucketName });
  }
}
