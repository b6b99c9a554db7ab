/**
 * One environment's stack: the provider and backend, the tagging aspect, and the modules wired
 * together by passing references. This is the only place environment config becomes module props.
 */
import { Aspects, TerraformStack } from "cdktf";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { Construct } from "constructs";
import { DATASETS, PartitionedDataset, type Dataset } from "../datasets";
import { ConfigError, type EnvironmentConfig } from "../environments";
import { Analytics } from "./analytics";
import { Catalog } from "./catalog";
import { checkExtractCadence, Ingestion } from "./ingestion";
import { Lake } from "./lake";
import { Network } from "./network";
import { Observability } from "./observability";
import { longestRawKey } from "./ingestion/raw-keys";
import {
  batchInputBytes,
  EXECUTION_INPUT_MAX_BYTES,
  largestBatchFor,
  Orchestration,
  type DatasetPipelineJobs,
} from "./orchestration";
import { Naming } from "./shared/naming";
import { stackOutput } from "./shared/outputs";
import { StreamSqlApplication } from "./streaming";
import { DataProtectionAspect } from "./shared/protection";
import { configureBackend, configureProvider } from "./shared/provider";
import { TaggingAspect, requiredTags } from "./shared/tagging";

export interface PlatformStackOptions {
  /** The dataset contracts this stack carries. @default DATASETS */
  readonly datasets?: readonly Dataset[];
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
  readonly ingestion: Ingestion;
  /** Alarms, log settings and the dashboard for everything in the stack (applied at synth). */
  readonly observability: Observability;
  readonly orchestration: Orchestration;
  /** The stream-SQL application per dataset that declares stream queries (none where streamSql is off). */
  readonly streamSql: Readonly<Record<string, StreamSqlApplication>>;
  /** Features this environment turns off, with the reason it gives (also the `platform_disabled_features` output). */
  readonly disabledFeatures: Readonly<Record<string, string>>;

  constructor(scope: Construct, config: EnvironmentConfig, options: PlatformStackOptions = {}) {
    super(scope, config.name);
    this.config = config;
    const tags = { ...config.tags, ...requiredTags(config) };

    configureBackend(this, config);
    configureProvider(this, config, tags);
    Aspects.of(this).add(new TaggingAspect(tags));
    // Every data-bearing resource, whichever module creates it (modules/shared/protection.ts).
    if (config.protection.preventDestroy) Aspects.of(this).add(new DataProtectionAspect());

    this.accountId = config.accountId ?? new DataAwsCallerIdentity(this, "current").accountId;
    this.naming = new Naming({
      project: config.project,
      environment: config.name,
      accountId: config.accountId,
      region: config.region,
      partition: config.partition,
    });
    const base = { naming: this.naming, accountId: this.accountId, region: config.region };

    this.lake = new Lake(this, "lake", {
      ...base,
      lifecycle: config.lake.lifecycle,
      noncurrentVersionExpirationDays: config.lake.noncurrentVersionExpirationDays,
      accessLogRetentionDays: config.lake.accessLogRetentionDays,
      forceDestroy: config.protection.forceDestroy,
    });

    this.datasets = (options.datasets ?? DATASETS).map(
      (contract) => new PartitionedDataset(contract, config.partitioning, config.name),
    );

    this.network = new Network(this, "network", {
      ...base,
      placement: config.network,
      flowLogs: { bucket: this.lake.accessLogs }, // audit logs live together, with one retention
      warehouse: config.redshift.enabled,
    });

    this.catalog = new Catalog(this, "catalog", {
      ...base,
      lake: this.lake,
      datasets: this.datasets,
      crawlerSchedule: config.catalog.crawlerSchedule,
      lakeFormation: config.lakeFormation.enabled
        ? { admins: config.lakeFormation.admins, consumers: config.lakeFormation.consumers }
        : undefined,
    });

    const { redshift, quicksight } = config;
    this.analytics = new Analytics(this, "analytics", {
      ...base,
      lake: this.lake,
      catalog: this.catalog,
      datasets: this.datasets,
      network: this.network,
      athena: config.athena,
      redshift: redshift.enabled
        ? { baseCapacityRpu: redshift.baseCapacityRpu, maxCapacityRpu: redshift.maxCapacityRpu }
        : undefined,
      quicksight: quicksight.enabled && quicksight.principalArn ? { principalArn: quicksight.principalArn } : undefined,
      forceDestroy: config.protection.forceDestroy,
    });

    const { ingestion } = config;
    checkLambdaBudget(config, this.datasets);
    this.ingestion = new Ingestion(this, "ingestion", {
      ...base,
      lake: this.lake,
      catalog: this.catalog,
      network: this.network,
      datasets: this.datasets,
      api: ingestion.api,
      glue: ingestion.glue,
      extracts: ingestion.extracts,
      rds: ingestion.rds,
      kinesis: ingestion.kinesis,
      firehose: ingestion.firehose,
      emrServerless: ingestion.emrServerless.enabled ? ingestion.emrServerless : undefined,
      logRetentionDays: config.logs.retentionDays,
      forceDestroy: config.protection.forceDestroy,
    });
    checkExtractCadence(
      config.name,
      ingestion.extracts,
      this.datasets.filter((d) => this.ingestion.extractSchedules[d.name]),
    );
    const { streamSql } = config;
    this.streamSql = Object.fromEntries(
      (streamSql.enabled
        ? this.datasets.filter((d) => d.contract.streamQueries && this.ingestion.streams[d.name])
        : []
      ).map((dataset) => [
        dataset.name,
        new StreamSqlApplication(this, `stream-sql-${dataset.name}`, {
          ...base,
          dataset,
          events: this.ingestion.streams[dataset.name],
          streamKey: this.ingestion.key,
          lake: this.lake,
          catalog: this.catalog,
          artifacts: this.ingestion.artifacts,
          settings: streamSql,
        }),
      ]),
    );
    this.observability = new Observability(this, "observability", {
      ...base,
      alarms: config.alarms,
      streamSqlAlarms: streamSql.alarms,
      logRetentionDays: config.logs.retentionDays,
    });
    const { batching } = config.orchestration;
    // Every dataset with both transform jobs gets a pipeline. (A stream whose Firehose converts to
    // Parquet lands in processed directly and has no raw → processed job to orchestrate.)
    const pipelines = this.datasets.flatMap((dataset): DatasetPipelineJobs[] => {
      const { rawToProcessed, processedToConsumer } = this.ingestion.glue.jobs[dataset.name] ?? {};
      // The job resources themselves (not their names as text), so terraform orders jobs before pipelines.
      return rawToProcessed && processedToConsumer
        ? [{ dataset, rawToProcessed: rawToProcessed.job, processedToConsumer: processedToConsumer.job }]
        : [];
    });
    checkTriggerBatch(
      config,
      pipelines.map((p) => p.dataset),
      this.naming,
    );
    this.orchestration = new Orchestration(this, "orchestration", {
      ...base,
      lake: this.lake,
      catalog: this.catalog,
      pipelines,
      batching: batching.enabled ? { batchSize: batching.batchSize, windowSeconds: batching.windowSeconds } : undefined,
      executionTimeoutMinutes: config.orchestration.executionTimeoutMinutes,
      logExecutionData: config.orchestration.logExecutionData,
      maxReceiveCount: config.orchestration.maxReceiveCount,
      crawlerPollSeconds: config.orchestration.crawlerPollSeconds,
    });
    // The alerts topic is the on-call topic; observability only uses it where alarms page.
    this.observability.notifyOnCall(this.orchestration.alerts);

    const disabled: Record<string, string> = {};
    if (!redshift.enabled) disabled.redshift = redshift.disabledReason ?? "turned off";
    if (!batching.enabled) disabled.pipelineBatching = batching.disabledReason ?? "turned off";
    if (!quicksight.enabled && quicksight.disabledReason) disabled.quicksight = quicksight.disabledReason;
    if (!ingestion.emrServerless.enabled && ingestion.emrServerless.disabledReason)
      disabled.emrServerless = ingestion.emrServerless.disabledReason;
    if (!streamSql.enabled) disabled.streamSql = streamSql.disabledReason ?? "turned off";
    this.disabledFeatures = disabled;

    if (Object.keys(this.streamSql).length > 0) {
      stackOutput(
        this,
        "stream_sql_application_names",
        Object.fromEntries(Object.entries(this.streamSql).map(([name, a]) => [name, a.application.name])),
        "Managed Flink stream-SQL application name per real-time dataset",
      );
    }
    // Visible in `terraform output`: what this environment does without, and why.
    stackOutput(
      this,
      "platform_disabled_features",
      this.disabledFeatures,
      "Features this environment turns off, each with the reason its config gives",
    );
  }
}

/**
 * A dataset the rules give to Lambda declares how long a run takes; the function's timeout must
 * cover it. Reported like any configuration problem: environment, field, rule.
 */
function checkLambdaBudget(config: EnvironmentConfig, datasets: readonly PartitionedDataset[]): void {
  const timeout = config.ingestion.api.timeoutSeconds;
  const problems = datasets
    .filter((d) => d.engine === "lambda" && d.contract.ingestion.durationMinutes * 60 > timeout)
    .map((d) => ({
      environment: config.name,
      field: "ingestion.api.timeoutSeconds",
      rule: `must cover dataset ${d.name}'s declared run of ${d.contract.ingestion.durationMinutes} minutes (${d.contract.ingestion.durationMinutes * 60} s) (got ${timeout})`,
    }));
  if (problems.length) throw new ConfigError(problems);
}

/**
 * A batched trigger hands a whole batch to one execution, whose input Step Functions caps at
 * 256 KiB: the configured batch of each pipelined dataset's longest raw key must fit, or a full
 * batch could never start (it would wait in the buffer's DLQ). Reported like any configuration
 * problem: environment, field, rule.
 */
function checkTriggerBatch(config: EnvironmentConfig, datasets: readonly PartitionedDataset[], naming: Naming): void {
  const { batching } = config.orchestration;
  if (!batching.enabled) return;
  const problems = datasets.flatMap((d) => {
    const key = longestRawKey(d, naming);
    const bytes = batchInputBytes(batching.batchSize, key.bytes);
    if (bytes <= EXECUTION_INPUT_MAX_BYTES) return [];
    return [
      {
        environment: config.name,
        field: "orchestration.batching.batchSize",
        rule: `must fit one execution's input (Step Functions allows ${EXECUTION_INPUT_MAX_BYTES} bytes): dataset ${d.name}'s raw keys (${key.writer}) can take ${key.bytes} bytes, so ${batching.batchSize} of them need ${bytes}; at most ${largestBatchFor(key.bytes)} fit (got ${batching.batchSize})`,
      },
    ];
  });
  if (problems.length) throw new ConfigError(problems);
}
