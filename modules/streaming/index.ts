/**
 * Real-time SQL on streams: one Amazon Managed Service for Apache Flink application (runtime
 * FLINK-1_20, PyFlink) per dataset that declares stream queries, reading the dataset's Kinesis
 * stream and writing each query's windows to the consumer zone.
 *
 * Results go to S3, not to another stream: a dashboard or analyst asks "sessions per region in the
 * last hour" with SQL, so each query gets a Glue table (JSON lines, partition projection like the
 * dataset's tables) that Athena, Lake Formation grants and the dashboards already reach; a result
 * stream would need a consumer of its own before anyone could read it. Files become readable at
 * checkpoints (see the environment's `streamSql.checkpointIntervalSeconds`).
 *
 * The code package (stream-sql/app/main.py, the generated job.json and the Kinesis connector jar) is
 * shipped by content hash like the Glue scripts; the jar is a pinned input (modules/streaming/package.ts).
 */
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CloudwatchLogStream } from "@cdktf/provider-aws/lib/cloudwatch-log-stream";
import { GlueCatalogTable } from "@cdktf/provider-aws/lib/glue-catalog-table";
import { Kinesisanalyticsv2Application } from "@cdktf/provider-aws/lib/kinesisanalyticsv2-application";
import { S3Object } from "@cdktf/provider-aws/lib/s3-object";
import { Construct } from "constructs";
import { PartitionLayout, type PartitionedDataset } from "../../datasets";
import type { StreamSqlConfig } from "../../environments/schema";
import type { Catalog } from "../catalog";
import type { EventStream } from "../ingestion/streaming";
import type { Lake } from "../lake";
import { defined } from "../shared/defined";
import type { EncryptionKey } from "../shared/encryption-key";
import { ValidationError } from "../shared/errors";
import { ServiceRole } from "../shared/iam";
import type { Naming } from "../shared/naming";
import type { SecureBucket } from "../shared/secure-bucket";
import { streamSqlJob } from "./flink-sql";
import { streamPackage, type StreamPackage } from "./package";

/** The newest Flink runtime the AWS provider 5.100.0 accepts (its runtime_environment values). */
export const FLINK_RUNTIME = "FLINK-1_20";
/** Where a new application starts reading: the tip. Windows are about now; the lake keeps the history. */
export const INITIAL_POSITION = "LATEST";
/** The Glue SerDe that reads the JSON lines Flink writes. */
const JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe";
/** Property group naming the stream the application reads, for its alarms (the application ignores it). */
export const MONITORING_GROUP = "monitoring";
export const MONITORED_STREAM = "input.stream.name";

export type StreamSqlSettings = Omit<StreamSqlConfig, "enabled" | "disabledReason">;

export interface StreamSqlProps {
  readonly naming: Naming;
  readonly accountId: string;
  readonly region: string;
  readonly dataset: PartitionedDataset;
  /** The dataset's stream and the key it is encrypted with. */
  readonly events: EventStream;
  readonly streamKey: EncryptionKey;
  readonly lake: Lake;
  readonly catalog: Catalog;
  /** Bucket the code package is uploaded to (its key encrypts it). */
  readonly artifacts: SecureBucket;
  readonly settings: StreamSqlSettings;
}

export class StreamSqlApplication extends Construct {
  readonly application: Kinesisanalyticsv2Application;
  readonly role: ServiceRole;
  readonly logGroup: CloudwatchLogGroup;
  readonly package: StreamPackage;
  readonly packageObject: S3Object;
  /** Result table per query name. */
  readonly tables: Readonly<Record<string, GlueCatalogTable>>;

  constructor(scope: Construct, id: string, props: StreamSqlProps) {
    super(scope, id);
    const { naming, accountId, region, dataset, events, streamKey, lake, catalog, artifacts, settings } = props;
    const job = streamSqlJob(dataset);
    const pkg = streamPackage(dataset);
    if (!job || !pkg)
      throw new ValidationError(
        "STREAM_SQL_NO_QUERIES",
        `dataset ${dataset.name} declares no stream queries, so it has no stream-SQL application`,
        this,
      );
    this.package = pkg;
    const name = naming.name(dataset.name, "sql");
    const streamName = events.stream.nameInput;
    if (!streamName)
      throw new ValidationError(
        "STREAM_SQL_COMPUTED_STREAM_NAME",
        `dataset ${dataset.name}: its stream's name is computed; the application's alarms need it literally`,
        this,
      );
    const artifactsKey = defined(artifacts.encryptionKey, "the artifacts bucket's KMS key");

    // The package is built next to the synthesized stack by `npm run stream-sql:package` (it needs the
    // jar); terraform reads it at apply, so validate and plan work without it and apply names the missing file.
    this.packageObject = new S3Object(this, "package", {
      bucket: artifacts.bucket.id,
      key: `flink/packages/${pkg.contentHash}/${dataset.name}.zip`,
      source: pkg.relativePath,
      sourceHash: pkg.contentHash,
      contentType: "application/zip",
      serverSideEncryption: "aws:kms",
      kmsKeyId: artifactsKey.arn,
      bucketKeyEnabled: true,
    });

    // Retention and the logs key come from the observability module, which finds every log group.
    this.logGroup = new CloudwatchLogGroup(this, "logs", { name: `/aws/kinesis-analytics/${name}` });
    const logStream = new CloudwatchLogStream(this, "log-stream", {
      name: "application",
      logGroupName: this.logGroup.name,
    });

    this.role = new ServiceRole(this, "role", {
      naming,
      name: `flink-${dataset.name}`,
      service: "kinesisanalytics.amazonaws.com",
      accountId,
      sourceArns: [
        naming.arn({ service: "kinesisanalytics", region, account: accountId, resource: `application/${name}` }),
      ],
      description: `Managed Flink ${name}: reads the ${dataset.name} stream, writes its stream-query results to the consumer zone`,
    });
    this.role.addToPolicy({
      sid: "ReadStream",
      actions: [
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetShardIterator",
        "kinesis:GetRecords",
        "kinesis:ListShards",
      ],
      resources: [events.stream.arn],
    });
    streamKey.grantDecrypt(this.role, "kinesis");
    this.role.addToPolicy({
      sid: "ReadPackage",
      actions: ["s3:GetObject", "s3:GetObjectVersion"],
      resources: [`${artifacts.bucket.arn}/flink/packages/${pkg.contentHash}/*`],
    });
    artifactsKey.grantDecrypt(this.role, "s3");
    this.role.addToPolicy({
      sid: "ApplicationLogs",
      actions: ["logs:DescribeLogStreams", "logs:PutLogEvents"],
      resources: [this.logGroup.arn, `${this.logGroup.arn}:log-stream:${logStream.name}`],
    });

    const tables: Record<string, GlueCatalogTable> = {};
    for (const query of job.queries) {
      const prefix = `${query.table}/`;
      // The file sink writes in-progress files and renames them at checkpoints: it deletes what it renamed.
      lake.grantReadWrite("consumer", this.role, prefix, { allowDelete: true });
      const location = lake.uri("consumer", prefix);
      const layout = new PartitionLayout({ keys: [...query.partitionKeys] });
      tables[query.query.name] = new GlueCatalogTable(this, `table-${query.query.name}`, {
        name: query.table,
        databaseName: catalog.databaseName("consumer"),
        description: `${query.query.description} (${dataset.name}, real-time: computed on the stream by ${name})`.slice(
          0,
          2048,
        ),
        tableType: "EXTERNAL_TABLE",
        parameters: { EXTERNAL: "TRUE", classification: "json", ...layout.projectionParameters(location) },
        partitionKeys: layout.glueColumns(),
        storageDescriptor: {
          location,
          inputFormat: "org.apache.hadoop.mapred.TextInputFormat",
          outputFormat: "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
          serDeInfo: { name: "json", serializationLibrary: JSON_SERDE, parameters: { "serialization.format": "1" } },
          columns: query.columns.map((c) => ({ name: c.name, type: c.glueType })),
        },
        dependsOn: [catalog.databases.consumer],
      });
    }
    this.tables = tables;
    lake.zones.consumer.key.grantEncryptDecrypt(this.role, "s3");

    this.application = new Kinesisanalyticsv2Application(this, "application", {
      name,
      description: `Stream queries of ${dataset.name}: ${job.queries.map((q) => q.query.name).join(", ")}`,
      runtimeEnvironment: FLINK_RUNTIME,
      serviceExecutionRole: this.role.arn,
      startApplication: true,
      applicationConfiguration: {
        applicationCodeConfiguration: {
          codeContentType: "ZIPFILE",
          codeContent: { s3ContentLocation: { bucketArn: artifacts.bucket.arn, fileKey: this.packageObject.key } },
        },
        applicationSnapshotConfiguration: { snapshotsEnabled: settings.snapshots },
        environmentProperties: {
          propertyGroup: [
            {
              propertyGroupId: "kinesis.analytics.flink.run.options",
              propertyMap: { python: "main.py", jarfile: `lib/${pkg.jarName}` },
            },
            {
              propertyGroupId: "source",
              propertyMap: {
                "stream.arn": events.stream.arn,
                "aws.region": region,
                "source.init.position": INITIAL_POSITION,
              },
            },
            { propertyGroupId: "sink", propertyMap: { "results.uri": lake.uri("consumer") } },
            { propertyGroupId: MONITORING_GROUP, propertyMap: { [MONITORED_STREAM]: streamName } },
          ],
        },
        flinkApplicationConfiguration: {
          checkpointConfiguration: {
            configurationType: "CUSTOM",
            checkpointingEnabled: true,
            checkpointInterval: settings.checkpointIntervalSeconds * 1000,
            // Leave the job a fifth of the interval between checkpoints to process (at least 5 s).
            minPauseBetweenCheckpoints: Math.max(5000, settings.checkpointIntervalSeconds * 200),
          },
          monitoringConfiguration: { configurationType: "CUSTOM", logLevel: "INFO", metricsLevel: "APPLICATION" },
          parallelismConfiguration: {
            configurationType: "CUSTOM",
            parallelism: settings.parallelism,
            parallelismPerKpu: settings.parallelismPerKpu,
            autoScalingEnabled: settings.autoScaling,
          },
        },
        // A restart resumes from the latest snapshot when snapshots are on; otherwise from the stream's tip.
        runConfiguration: {
          applicationRestoreConfiguration: {
            applicationRestoreType: settings.snapshots ? "RESTORE_FROM_LATEST_SNAPSHOT" : "SKIP_RESTORE_FROM_SNAPSHOT",
          },
        },
      },
      cloudwatchLoggingOptions: { logStreamArn: `${this.logGroup.arn}:log-stream:${logStream.name}` },
      // The role's policy must allow reading the package and the stream before the application is created.
      dependsOn: [defined(this.role.inlinePolicy, "the Flink application role's inline policy"), this.packageObject],
    });
  }
}
