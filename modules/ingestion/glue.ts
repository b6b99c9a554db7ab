/**
 * The heavy path: Glue 5.0 Spark jobs per dataset — raw → processed and processed → consumer for
 * every dataset, plus the extract that lands RDS (JDBC connection, bookmarks) or DynamoDB (export
 * connector) sources in raw. Scripts and the `dataplat_glue` package are uploaded to the artifacts
 * bucket under keys that carry their sha256, so a changed script is a new object and an unchanged
 * one never redeploys. One least-privilege role per job, scoped to its dataset's folders.
 *
 * Job arguments follow glue-jobs/dataplat_glue (args.py and each job's ARGS). The defaults are for
 * operators running a job by hand and point at the dataset (`--input_path` its raw folder, the
 * quarantine and summary paths the per-run layout's roots, modules/shared/run-layout.ts). A pipeline
 * run passes its own: raw → processed gets `--manifest_path` (the run's manifest), `--run_id` and
 * `--summary_path`; processed → consumer gets `--partitions_path` (raw → processed's run summary),
 * `--run_id` and `--summary_path`. `--manifest_path` has no default.
 */
import type { IngestionConfig } from "../../environments";
import { AssetType, TerraformAsset } from "cdktf";
import { GlueConnection } from "@cdktf/provider-aws/lib/glue-connection";
import { GlueJob } from "@cdktf/provider-aws/lib/glue-job";
import { S3Object } from "@cdktf/provider-aws/lib/s3-object";
import type { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { Construct } from "constructs";
import type { IngestionContext } from "./context";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { livesIn, type PartitionedDataset } from "../../datasets";
import { ROOT, zipFiles, type Artifact } from "../shared/bundle";
import { defined } from "../shared/defined";
import type { EncryptionKey } from "../shared/encryption-key";
import { ServiceRole, type KeptReason } from "../shared/iam";
import { EARLIER_RUN_STATE, SECRET_DECRYPT } from "../shared/kept-reasons";
import { skipPolicyCheck } from "../shared/policy-checks";
import { runLayout } from "../shared/run-layout";
import type { SecureBucket } from "../shared/secure-bucket";

/** Per-environment job settings (the environment's `ingestion.glue`). */
/** The environment's `ingestion.glue` (documented in environments/schema.ts). */
export type GlueJobSettings = IngestionConfig["glue"];

/** The RDS source the `rds` datasets are extracted from. */
export interface RdsSource {
  readonly jdbcUrl: string;
  /** Where the database lives; the Glue security group may reach it there on the database port. */
  readonly databaseCidr: string;
}

/** The Glue job scripts (glue-jobs/jobs/<kind>.py). */
/**
 * Where an extract stages a run before committing it: "_staging/<dataset>/" in the raw bucket,
 * beside the dataset's folder, not in it. The dataset's raw-created trigger and its crawler watch
 * "<dataset>/", so staged files start no pipeline and are never crawled ("_" also keeps them out of
 * any dataset name: names are lowercase identifiers).
 */
export function extractStagingPrefix(datasetPrefix: string): string {
  return `_staging/${datasetPrefix}`;
}

export const JOB_KINDS = ["raw_to_processed", "processed_to_consumer", "rds_extract", "dynamodb_extract"] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export interface GlueJobRef {
  readonly kind: JobKind;
  readonly job: GlueJob;
  readonly name: string;
  readonly arn: string;
  readonly role: ServiceRole;
}

/** A dataset's jobs: what orchestration starts. A job is absent where the dataset has no such step. */
export interface DatasetJobs {
  /** Lands the source in raw (RDS and DynamoDB datasets). */
  readonly extract?: GlueJobRef;
  readonly rawToProcessed?: GlueJobRef;
  readonly processedToConsumer?: GlueJobRef;
}

export interface GlueJobsProps extends IngestionContext {
  readonly settings: GlueJobSettings;
  readonly artifacts: SecureBucket;
  /** Glue's temporary directory and DynamoDB exports (short-lived, raw-zone data). */
  readonly scratch: SecureBucket;
  /** Where the DynamoDB extracts keep their export history (where the next incremental export starts). @default none (no DynamoDB dataset) */
  readonly state?: SecureBucket;
  /** Encrypts the RDS credentials secret. */
  readonly key: EncryptionKey;
  /** The RDS source; without it no JDBC connection or RDS extract is created. */
  readonly rds?: { readonly source: RdsSource; readonly secret: SecretsmanagerSecret };
  /** Datasets whose raw → processed step Firehose does (Parquet conversion): no job for them. */
  readonly convertedByFirehose?: ReadonlySet<string>;
}

/** Bookmarks only make the JDBC read incremental; the other jobs take explicit paths and must rerun identically. */
const BOOKMARKS_OFF = "job-bookmark-disable";

export class GlueJobs extends Construct {
  readonly jobs: Readonly<Record<string, DatasetJobs>>;
  /** S3 URI of each uploaded script, and of the package. */
  readonly scripts: Readonly<Record<JobKind, string>>;
  readonly packageUri: string;
  readonly packageArtifact: Artifact;
  readonly connection?: GlueConnection;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: GlueJobsProps,
  ) {
    super(scope, id);
    const { artifacts, datasets, lake, catalog } = props;

    this.packageArtifact = gluePackage();
    const packageObject = this.upload(
      "package",
      `glue/packages/${this.packageArtifact.sha256}/dataplat_glue.zip`,
      this.packageArtifact.path,
      this.packageArtifact.sha256,
      "application/zip",
    );
    this.packageUri = `s3://${artifacts.bucketName}/${packageObject.key}`;
    const scripts = {} as Record<JobKind, string>;
    for (const kind of JOB_KINDS) {
      const path = join(ROOT, "glue-jobs", "jobs", `${kind}.py`);
      const hash = createHash("sha256").update(readFileSync(path)).digest("hex");
      const object = this.upload(`script-${kind}`, `glue/scripts/${hash}/${kind}.py`, path, hash, "text/x-python");
      scripts[kind] = `s3://${artifacts.bucketName}/${object.key}`;
    }
    this.scripts = scripts;

    if (props.rds && datasets.some((d) => d.contract.source.kind === "rds"))
      this.connection = this.rdsConnection(props.rds.source, props.rds.secret);

    const jobs: Record<string, DatasetJobs> = {};
    for (const dataset of datasets) {
      const source = dataset.contract.source;
      let extract: GlueJobRef | undefined;
      if (source.kind === "rds" && this.connection && props.rds) {
        extract = this.job(
          dataset,
          "rds_extract",
          {
            "--output_path": lake.uri("raw", dataset.prefix),
            "--staging_path": lake.uri("raw", extractStagingPrefix(dataset.prefix)),
            "--source_table": source.table,
            "--connection_name": this.connection.name,
            "--connection_type": jdbcEngine(props.rds.source.jdbcUrl),
          },
          [this.connection.name],
        );
        lake.grantReadWrite("raw", extract.role, dataset.prefix, { allowDelete: true });
        lake.grantReadWrite("raw", extract.role, extractStagingPrefix(dataset.prefix), { allowDelete: true });
        extract.role.addToPolicy({
          sid: "Connection",
          actions: ["glue:GetConnection"],
          resources: [catalogArn(props, "catalog"), catalogArn(props, `connection/${props.naming.name("rds-source")}`)],
        });
        extract.role.addToPolicy({
          sid: "DatabaseCredentials",
          actions: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
          resources: [props.rds.secret.arn],
          keptBecause: {
            reason:
              "Glue resolves the connection's secret (SECRET_ID) with the job's role, describing it as well as reading it; the emulated connection reads it only",
            actions: ["secretsmanager:DescribeSecret"],
            citation: "https://docs.aws.amazon.com/glue/latest/dg/connection-properties-secrets-manager.html",
          },
        });
        props.key.grantDecrypt(extract.role, "secretsmanager", SECRET_DECRYPT);
        this.grantNetworkInterfaces(extract.role);
      } else if (source.kind === "dynamodb") {
        const exportPrefix = `dynamodb-exports/${dataset.prefix}`;
        const tableArn = props.naming.arn({
          service: "dynamodb",
          region: props.region,
          account: props.accountId,
          resource: `table/${source.table}`,
        });
        // A full export first, then incremental ones from the end of the last: the history outlives the scratch bucket's expiry.
        if (!props.state)
          throw new Error(
            `dataset ${dataset.name}: the DynamoDB extract needs the ingestion state bucket for its export history`,
          );
        const historyPrefix = `${dataset.prefix}dynamodb-extract/`;
        const deletionsPrefix = `${dataset.prefix}dynamodb_extract/deletions/`;
        extract = this.job(dataset, "dynamodb_extract", {
          "--output_path": lake.uri("raw", dataset.prefix),
          "--staging_path": lake.uri("raw", extractStagingPrefix(dataset.prefix)),
          "--table_arn": tableArn,
          "--export_bucket": props.scratch.bucketName,
          "--export_prefix": exportPrefix,
          "--state_path": `s3://${props.state.bucketName}/${historyPrefix}exports.json`,
          "--deletions_path": lake.uri("quarantine", deletionsPrefix),
        });
        lake.grantReadWrite("raw", extract.role, dataset.prefix, { allowDelete: true });
        lake.grantReadWrite("raw", extract.role, extractStagingPrefix(dataset.prefix), { allowDelete: true });
        props.state.grantReadWrite(extract.role, historyPrefix, { keptBecause: EARLIER_RUN_STATE });
        // Items deleted in the source, recorded.
        lake.grantWrite("quarantine", extract.role, deletionsPrefix, {
          keptBecause: {
            reason: "written only when the source deleted items since the last export",
            actions: ["s3:PutObject", "kms:GenerateDataKey"],
            varies: true,
          },
        });
        // DynamoDB writes the export with the caller's credentials and sets bucket-owner-full-control.
        const exportWrites: KeptReason = {
          reason:
            "DynamoDB writes the export's files to S3 with the caller's credentials; the emulated export writes them as the service",
          citation: "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport_Requesting.html",
        };
        props.scratch.grantReadWrite(extract.role, exportPrefix, { allowDelete: true, keptBecause: exportWrites });
        extract.role.addToPolicy({
          sid: "ExportObjectAcl",
          actions: ["s3:PutObjectAcl"],
          resources: [props.scratch.objects(exportPrefix)],
          keptBecause: exportWrites,
        });
        // ExportTableToPointInTime starts full and incremental exports alike.
        extract.role.addToPolicy({
          sid: "ExportTable",
          actions: ["dynamodb:ExportTableToPointInTime"],
          resources: [tableArn],
        });
        extract.role.addToPolicy({
          sid: "TrackExport",
          actions: ["dynamodb:DescribeExport"],
          resources: [`${tableArn}/export/*`],
        });
      }

      let rawToProcessed: GlueJobRef | undefined;
      if (livesIn(dataset, "raw") && livesIn(dataset, "processed") && !props.convertedByFirehose?.has(dataset.name)) {
        rawToProcessed = this.job(dataset, "raw_to_processed", {
          // Where a run's manifest keys resolve (not an input: --input_path would read the whole dataset).
          "--raw_root": lake.uri("raw", dataset.prefix),
          "--output_path": catalog.location("processed", dataset),
          "--quarantine_path": lake.uri("quarantine", runLayout.quarantinePrefix(dataset.prefix, "raw_to_processed")),
          "--summary_path": lake.uri("quarantine", runLayout.summaryPrefix(dataset.prefix, "raw_to_processed")),
        });
        lake.grantRead("raw", rawToProcessed.role, dataset.prefix);
        lake.grantReadWrite("processed", rawToProcessed.role, dataset.prefix, { allowDelete: true, folderKey: true });
        lake.grantReadWrite(
          "quarantine",
          rawToProcessed.role,
          runLayout.quarantinePrefix(dataset.prefix, "raw_to_processed"),
          { allowDelete: true },
        );
        // The manifests the pipeline writes for this dataset's runs (only this dataset's).
        lake.grantRead("quarantine", rawToProcessed.role, runLayout.manifestPrefix(dataset.prefix));
      }

      let processedToConsumer: GlueJobRef | undefined;
      if (livesIn(dataset, "processed") && livesIn(dataset, "consumer")) {
        processedToConsumer = this.job(dataset, "processed_to_consumer", {
          "--input_path": catalog.location("processed", dataset),
          "--output_path": catalog.location("consumer", dataset),
          "--summary_path": lake.uri("quarantine", runLayout.summaryPrefix(dataset.prefix, "processed_to_consumer")),
        });
        lake.grantRead("processed", processedToConsumer.role, dataset.prefix, { folderKey: true });
        lake.grantReadWrite("consumer", processedToConsumer.role, dataset.prefix, {
          allowDelete: true,
          folderKey: true,
        });
        // Its own run summary only: it quarantines no rows.
        lake.grantWrite(
          "quarantine",
          processedToConsumer.role,
          runLayout.summaryPrefix(dataset.prefix, "processed_to_consumer"),
        );
        // `--partitions_path`: raw → processed's run summary says which partitions to rebuild.
        lake.grantRead(
          "quarantine",
          processedToConsumer.role,
          runLayout.summaryPrefix(dataset.prefix, "raw_to_processed"),
        );
      }
      jobs[dataset.name] = { extract, rawToProcessed, processedToConsumer };
    }
    this.jobs = jobs;
  }

  private upload(id: string, key: string, path: string, sha256: string, contentType: string): S3Object {
    const asset = new TerraformAsset(this, `${id}-asset`, { path, type: AssetType.FILE, assetHash: sha256 });
    const encryptionKey = defined(this.props.artifacts.encryptionKey, "the artifacts bucket's KMS key");
    return new S3Object(this, id, {
      bucket: this.props.artifacts.bucket.id,
      key,
      source: asset.path,
      sourceHash: sha256,
      contentType,
      // The artifacts bucket refuses writes naming any other key.
      serverSideEncryption: "aws:kms",
      kmsKeyId: encryptionKey.arn,
      bucketKeyEnabled: true,
    });
  }

  private job(
    dataset: PartitionedDataset,
    kind: JobKind,
    args: Record<string, string>,
    connections?: string[],
  ): GlueJobRef {
    const { naming, accountId, settings, catalog, artifacts, scratch } = this.props;
    const name = naming.name(dataset.name, kind.replace(/_/g, "-"));
    const role = new ServiceRole(this, `${dataset.name}-${kind}-role`, {
      naming,
      name: `${dataset.name}-${kind.replace(/_/g, "-")}`,
      service: "glue.amazonaws.com",
      accountId,
      // Glue's documented job-role trust has no source conditions, and one it does not send would stop
      // every run. Only principals of this account can pass the role to a job (iam:PassRole).
      confusedDeputyConditions: false,
      description: `Glue job ${name}`,
    });
    const tempPrefix = `glue-temp/${name}/`;
    artifacts.grantRead(role, "glue/");
    scratch.grantReadWrite(role, tempPrefix, {
      allowDelete: true,
      name: "TempDir",
      keptBecause: {
        reason:
          "Glue stages temporary data and the Spark UI's event logs under --TempDir with the job's role; the emulated Glue runtime keeps them on local disk",
        citation: "https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-glue-arguments.html",
      },
    });
    catalog.grantSecurityConfiguration(role, "jobs");
    if (settings.metrics) {
      role.addToPolicy({
        sid: "JobMetrics",
        actions: ["cloudwatch:PutMetricData"],
        resources: ["*"],
        conditions: { StringEquals: { "cloudwatch:namespace": "Glue" } },
        wildcardResourceReason:
          "CloudWatch metrics have no resource-level permissions; the namespace condition limits them to Glue's",
        keptBecause: {
          reason:
            "Glue publishes the job's metrics (--enable-metrics) with the job's role; the emulated Glue runtime publishes none",
          citation: "https://docs.aws.amazon.com/glue/latest/dg/monitoring-awsglue-with-cloudwatch-metrics.html",
        },
      });
    }
    const bookmarks = kind === "rds_extract" ? `job-bookmark-${settings.bookmarks}` : BOOKMARKS_OFF;
    const job = new GlueJob(this, `${dataset.name}-${kind}`, {
      name,
      description: `${kind.replace(/_/g, " ")} for ${dataset.name}`,
      roleArn: role.arn,
      glueVersion: settings.version,
      executionClass: "STANDARD", // Glue's default, stated: the service reports it back, so an omitted value shows as drift
      workerType: settings.workerType,
      numberOfWorkers: settings.numberOfWorkers,
      timeout: settings.timeoutMinutes,
      maxRetries: settings.maxRetries,
      // Pipeline jobs merge into stored partitions, so their runs must not overlap (the pipeline
      // waits instead); extracts take the environment's setting.
      executionProperty: {
        maxConcurrentRuns:
          kind === "raw_to_processed" || kind === "processed_to_consumer" ? 1 : settings.maxConcurrentRuns,
      },
      securityConfiguration: catalog.securityConfigurationName,
      connections,
      command: { name: "glueetl", pythonVersion: "3", scriptLocation: this.scripts[kind] },
      defaultArguments: {
        "--job-language": "python",
        "--extra-py-files": this.packageUri,
        "--TempDir": `s3://${scratch.bucketName}/${tempPrefix}`,
        "--job-bookmark-option": bookmarks,
        "--enable-metrics": String(settings.metrics),
        "--enable-observability-metrics": String(settings.metrics),
        "--enable-continuous-cloudwatch-log": String(settings.continuousLogging),
        "--dataset_contract": JSON.stringify(dataset.jobContract()),
        ...args,
      },
      dependsOn: [catalog.securityConfiguration],
    });
    return { kind, job, name, arn: job.arn, role };
  }

  private rdsConnection(source: RdsSource, secret: SecretsmanagerSecret): GlueConnection {
    const { naming, network } = this.props;
    const subnet = network.privateSubnets[0];
    const port = jdbcPort(source.jdbcUrl);
    network.allowGlueToCidr("rds-source", port, source.databaseCidr, "Glue JDBC connection to the RDS source");
    skipPolicyCheck(
      network.glueSecurityGroup,
      "CKV2_AWS_5",
      "false positive: the Glue JDBC connection attaches this group (physical_connection_requirements), a link checkov does not follow",
    );
    return new GlueConnection(this, "rds-connection", {
      name: naming.name("rds-source"),
      description: "The operational database the rds datasets are extracted from",
      connectionType: "JDBC",
      connectionProperties: {
        JDBC_CONNECTION_URL: source.jdbcUrl,
        // Credentials live in Secrets Manager (the value is set out of band, never in this stack).
        SECRET_ID: secret.name,
        JDBC_ENFORCE_SSL: "true",
      },
      physicalConnectionRequirements: {
        availabilityZone: subnet.availabilityZone,
        subnetId: subnet.id,
        securityGroupIdList: [network.glueSecurityGroup.id],
      },
    });
  }

  /** Glue creates the connection's network interfaces in our subnet with the job's role. */
  private grantNetworkInterfaces(role: ServiceRole): void {
    const { region, accountId, network } = this.props;
    const keptBecause: KeptReason = {
      reason:
        "Glue creates, describes, tags and deletes the connection's network interfaces in the VPC with the job's role; the emulated Glue connects from the host",
      citation: "https://docs.aws.amazon.com/glue/latest/dg/setup-vpc-for-glue-access.html",
    };
    const ec2 = (resource: string) => this.props.naming.arn({ service: "ec2", region, account: accountId, resource });
    role.addToPolicy({
      sid: "ConnectionInterfaces",
      actions: ["ec2:CreateNetworkInterface"],
      resources: [
        ec2("network-interface/*"),
        ec2(`subnet/${network.privateSubnets[0].id}`),
        ec2(`security-group/${network.glueSecurityGroup.id}`),
      ],
      keptBecause,
    });
    role.addToPolicy({
      sid: "ConnectionInterfaceCleanup",
      actions: ["ec2:DeleteNetworkInterface", "ec2:CreateTags", "ec2:DeleteTags"],
      resources: [ec2("network-interface/*")],
      keptBecause,
    });
    role.addToPolicy({
      sid: "ConnectionNetworkLookup",
      actions: [
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeVpcs",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeRouteTables",
        "ec2:DescribeVpcAttribute",
      ],
      resources: ["*"],
      wildcardResourceReason: "EC2 Describe actions have no resource-level permissions",
      keptBecause,
    });
  }
}

/** The `dataplat_glue` package as Glue's `--extra-py-files` zip, byte for byte what glue-jobs/build_package.py builds. */
export function gluePackage(): Artifact {
  const dir = join(ROOT, "glue-jobs", "dataplat_glue");
  const files: { path: string; name: string }[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(ROOT, rel), { withFileTypes: true })) {
      if (entry.name === "__pycache__") continue;
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else if (entry.name.endsWith(".py")) files.push({ path: child, name: child.slice("glue-jobs/".length) });
    }
  };
  if (!readdirSync(dir).length) throw new Error(`${dir} is empty`);
  walk("glue-jobs/dataplat_glue");
  return zipFiles("dataplat_glue.zip", files);
}

function jdbcEngine(url: string): string {
  return defined(/^jdbc:([a-z]+):/.exec(url)?.[1], `the engine of JDBC URL "${url}"`);
}

/** The port of a JDBC URL, or the engine's default. */
export function jdbcPort(url: string): number {
  const explicit = /^jdbc:[a-z]+:\/\/[^/:]+:(\d+)\//.exec(url);
  if (explicit) return Number(explicit[1]);
  return jdbcEngine(url) === "mysql" ? 3306 : 5432;
}

function catalogArn(props: Pick<IngestionContext, "naming" | "region" | "accountId">, resource: string): string {
  return props.naming.arn({ service: "glue", region: props.region, account: props.accountId, resource });
}
