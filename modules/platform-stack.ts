/**
 * One environment's stack: the provider and backend, the tagging aspect, and the modules wired
 * together by passing references. This is the only place environment config becomes module props.
 */
import { Aspects, TerraformOutput, TerraformStack } from "cdktf";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { Construct } from "constructs";
import { DATASETS, PartitionedDataset, type DatasetContract } from "../datasets";
import type { EnvironmentConfig } from "../environments";
import { Analytics, WORKGROUPS } from "./analytics";
import { Catalog } from "./catalog";
import { Lake, ZONES } from "./lake";
import { Network } from "./network";
import { Observability } from "./observability";
import { Orchestration, type DatasetPipelineJobs } from "./orchestration";
import { Naming } from "./shared/naming";
import { configureBackend, configureProvider } from "./shared/provider";
import { TaggingAspect, requiredTags } from "./shared/tagging";

export interface PlatformStackOptions {
  /** The dataset contracts this stack carries. @default DATASETS */
  readonly datasets?: readonly DatasetContract[];
  /**
   * The Glue jobs of each dataset's pipeline, built inside the stack (they need it as their scope).
   * Merge point for the ingestion module: its per-dataset `rawToProcessed`/`processedToConsumer`
   * jobs become the default here. Tests pass their own jobs.
   * @default no pipelines (orchestration still creates its topics, subscribers and rules)
   */
  readonly pipelines?: (stack: PlatformStack) => readonly DatasetPipelineJobs[];
}

export class PlatformStack extends TerraformStack {
  readonly config: EnvironmentConfig;
  readonly naming: Naming;
  /** The environment's account id (from config; read from the caller identity where config omits it). */
  readonly accountId: string;
  readonly lake: Lake;
  /** The contracts with this environment's partition spec applied. */
  readonly datasets: readonly PartitionedDataset[];
  readonly network: Network;
  readonly catalog: Catalog;
  readonly analytics: Analytics;
  /** Alarms, log settings and the dashboard for everything in the stack (applied at synth). */
  readonly observability: Observability;
  readonly orchestration: Orchestration;
  /** Features this environment turns off, with the reason it gives (also the `platform_disabled_features` output). */
  readonly disabledFeatures: Readonly<Record<string, string>>;

  constructor(scope: Construct, config: EnvironmentConfig, options: PlatformStackOptions = {}) {
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

    this.datasets = (options.datasets ?? DATASETS).map((contract) => new PartitionedDataset(contract, config.partitioning, config.name));

    this.network = new Network(this, "network", {
      ...base,
      placement: config.network,
      flowLogs: { bucket: this.lake.accessLogs }, // audit logs live together, with one retention
    });

    this.catalog = new Catalog(this, "catalog", {
      ...base,
      lake: this.lake,
      datasets: this.datasets,
      crawlerSchedule: config.catalog.crawlerSchedule,
      lakeFormation: config.lakeFormation.enabled ? { admins: config.lakeFormation.admins, consumers: config.lakeFormation.consumers } : undefined,
      preventDestroy: config.protection.preventDestroy,
    });

    const { redshift, quicksight } = config;
    this.analytics = new Analytics(this, "analytics", {
      ...base,
      lake: this.lake,
      catalog: this.catalog,
      datasets: this.datasets,
      network: this.network,
      athena: config.athena,
      redshift: redshift.enabled ? { baseCapacityRpu: redshift.baseCapacityRpu, maxCapacityRpu: redshift.maxCapacityRpu } : undefined,
      quicksight: quicksight.enabled && quicksight.principalArn ? { principalArn: quicksight.principalArn } : undefined,
      forceDestroy: config.protection.forceDestroy,
      preventDestroy: config.protection.preventDestroy,
    });

    this.observability = new Observability(this, "observability", {
      ...base,
      alarms: config.alarms,
      logRetentionDays: config.logs.retentionDays,
      preventDestroy: config.protection.preventDestroy,
    });
    const { batching } = config.orchestration;
    this.orchestration = new Orchestration(this, "orchestration", {
      ...base,
      lake: this.lake,
      catalog: this.catalog,
      pipelines: options.pipelines?.(this) ?? [],
      batching: batching.enabled ? { batchSize: batching.batchSize, windowSeconds: batching.windowSeconds } : undefined,
      executionTimeoutMinutes: config.orchestration.executionTimeoutMinutes,
      logExecutionData: config.orchestration.logExecutionData,
      maxReceiveCount: config.orchestration.maxReceiveCount,
      preventDestroy: config.protection.preventDestroy,
    });
    // The alerts topic is the on-call topic; observability only uses it where alarms page.
    this.observability.notifyOnCall(this.orchestration.alerts);

    const disabled: Record<string, string> = {};
    if (!redshift.enabled) disabled.redshift = redshift.disabledReason ?? "turned off";
    if (!batching.enabled) disabled.pipelineBatching = batching.disabledReason ?? "turned off";
    if (!quicksight.enabled && quicksight.disabledReason) disabled.quicksight = quicksight.disabledReason;
    this.disabledFeatures = disabled;

    for (const zone of ZONES) {
      new TerraformOutput(this, `lake_${zone}_bucket_name`, { value: this.lake.zones[zone].bucket.bucketName });
      new TerraformOutput(this, `lake_${zone}_kms_key_arn`, { value: this.lake.zones[zone].key.arn });
      new TerraformOutput(this, `catalog_${zone}_database_name`, { value: this.catalog.databases[zone].name });
    }
    new TerraformOutput(this, "lake_access_logs_bucket_name", { value: this.lake.accessLogs.bucketName });
    new TerraformOutput(this, "catalog_security_configuration_name", { value: this.catalog.securityConfiguration.name });
    new TerraformOutput(this, "catalog_crawler_names", { value: Object.fromEntries(Object.entries(this.catalog.crawlers).map(([name, c]) => [name, c.name])) });
    for (const workgroup of WORKGROUPS) {
      new TerraformOutput(this, `athena_${workgroup}_workgroup_name`, { value: this.analytics.athena.workgroups[workgroup].name });
    }
    new TerraformOutput(this, "athena_results_bucket_name", { value: this.analytics.athena.resultsBucket.bucketName });
    new TerraformOutput(this, "athena_named_query_ids", { value: Object.fromEntries(Object.entries(this.analytics.athena.namedQueries).map(([name, q]) => [name, q.query.id])) });
    new TerraformOutput(this, "network_vpc_id", { value: this.network.vpcId });
    new TerraformOutput(this, "network_private_subnet_ids", { value: this.network.subnetIds });
    new TerraformOutput(this, "network_glue_security_group_id", { value: this.network.glueSecurityGroup.id });
    const warehouse = this.analytics.warehouse;
    if (warehouse) {
      new TerraformOutput(this, "redshift_workgroup_name", { value: warehouse.workgroup.workgroupName });
      new TerraformOutput(this, "redshift_namespace_name", { value: warehouse.namespace.namespaceName });
      new TerraformOutput(this, "redshift_admin_secret_arn", { value: warehouse.adminSecretArn });
      new TerraformOutput(this, "redshift_spectrum_role_arn", { value: warehouse.spectrumRole.arn });
    }
    new TerraformOutput(this, "orchestration_alerts_topic_arn", { value: this.orchestration.alerts.arn });
    new TerraformOutput(this, "orchestration_pipeline_events_topic_arn", { value: this.orchestration.pipelineEvents.arn });
    new TerraformOutput(this, "orchestration_subscriber_queue_urls", {
      value: Object.fromEntries(Object.entries(this.orchestration.subscribers).map(([name, q]) => [name, q.url])),
    });
    new TerraformOutput(this, "orchestration_state_machine_arns", {
      value: Object.fromEntries(Object.entries(this.orchestration.pipelines).map(([name, p]) => [name, p.stateMachine.arn])),
    });
    new TerraformOutput(this, "observability_dashboard_name", { value: this.observability.dashboard.dashboardName });
    new TerraformOutput(this, "observability_logs_kms_key_arn", { value: this.observability.logsKey.arn });
    // Visible in `terraform output`: what this environment does without, and why.
    new TerraformOutput(this, "platform_disabled_features", { value: this.disabledFeatures });
  }
}
