/**
 * The real-time path: a KMS-encrypted Kinesis Data Stream per streaming dataset, drained by
 * Firehose into the raw zone with dynamic partitioning from the environment's partition spec
 * (`PartitionLayout.firehosePrefix`/`firehoseQuery`, the same layout the API Lambda and the Glue
 * extracts write). Records Firehose cannot partition or deliver go under an error prefix outside
 * the dataset's folder. Optionally, Firehose converts to Parquet against the dataset's processed
 * table and delivers to the processed zone instead (then Firehose, not Glue, is raw → processed).
 */
import type { IngestionConfig } from "../../environments";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CloudwatchLogStream } from "@cdktf/provider-aws/lib/cloudwatch-log-stream";
import { KinesisFirehoseDeliveryStream } from "@cdktf/provider-aws/lib/kinesis-firehose-delivery-stream";
import { KinesisStream } from "@cdktf/provider-aws/lib/kinesis-stream";
import { Construct } from "constructs";
import type { PartitionedDataset, Zone } from "../../datasets";
import type { Catalog } from "../catalog";
import type { Lake } from "../lake";
import { defined } from "../shared/defined";
import { ValidationError } from "../shared/errors";
import type { EncryptionKey } from "../shared/encryption-key";
import { IGrantable, ServiceRole, sidOf } from "../shared/iam";
import type { Naming } from "../shared/naming";

/** Firehose's documented role permissions (Kinesis source, S3 destination, error logging). */
const FIREHOSE_ACCESS = "https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html";

/** The environment's `ingestion.kinesis` (documented in environments/schema.ts). */
export type KinesisSettings = IngestionConfig["kinesis"];

/** The environment's `ingestion.firehose` (documented in environments/schema.ts). */
export type FirehoseSettings = IngestionConfig["firehose"];

export interface EventStreamProps {
  readonly naming: Naming;
  readonly accountId: string;
  readonly region: string;
  readonly dataset: PartitionedDataset;
  readonly lake: Lake;
  readonly catalog: Catalog;
  readonly key: EncryptionKey;
  readonly kinesis: KinesisSettings;
  readonly firehose: FirehoseSettings;
  readonly logRetentionDays: number;
}

/** Where Firehose puts what it could not partition or deliver: outside every dataset folder, so no crawler or job reads it. */
export const FIREHOSE_ERROR_ROOT = "_firehose-errors/";
/** Seconds Firehose retries partitioning and delivery before a record goes to the error prefix. */
const RETRY_SECONDS = 300;

export class EventStream extends Construct {
  readonly stream: KinesisStream;
  readonly firehose: KinesisFirehoseDeliveryStream;
  readonly role: ServiceRole;
  readonly logGroup: CloudwatchLogGroup;
  /** The zone Firehose delivers to: raw, or processed with Parquet conversion. */
  readonly zone: Zone;
  /** The prefix records land under ("<dataset>/dt=!{partitionKeyFromQuery:dt}/…"). */
  readonly prefix: string;
  readonly errorPrefix: string;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: EventStreamProps,
  ) {
    super(scope, id);
    const { naming, accountId, region, dataset, lake, catalog, key, kinesis, firehose } = props;
    const name = naming.name(dataset.name);
    const parquet = firehose.parquetConversion;
    this.zone = parquet ? "processed" : "raw";
    const processedTable = catalog.tables[dataset.name]?.processed;
    if (parquet && !processedTable)
      throw new ValidationError(
        "INGESTION_PARQUET_WITHOUT_PROCESSED_TABLE",
        `dataset ${dataset.name}: Parquet conversion needs its processed table, and the dataset does not live in processed`,
        this,
      );

    this.stream = new KinesisStream(this, "kinesis", {
      name,
      streamModeDetails: { streamMode: kinesis.capacityMode },
      shardCount: kinesis.capacityMode === "PROVISIONED" ? kinesis.shardCount : undefined,
      retentionPeriod: kinesis.retentionHours,
      encryptionType: "KMS",
      kmsKeyId: key.arn,
    });

    this.logGroup = new CloudwatchLogGroup(this, "logs", {
      name: `/aws/kinesisfirehose/${name}`,
      retentionInDays: props.logRetentionDays,
      kmsKeyId: key.arn,
    });
    const logStream = new CloudwatchLogStream(this, "delivery-log", {
      name: "DestinationDelivery",
      logGroupName: this.logGroup.name,
    });

    this.role = new ServiceRole(this, "role", {
      naming,
      name: `firehose-${dataset.name}`,
      service: "firehose.amazonaws.com",
      accountId,
      sourceArns: [naming.arn({ service: "firehose", region, account: accountId, resource: `deliverystream/${name}` })],
      description: `Firehose ${name}: reads the stream, writes ${this.zone}/${dataset.prefix}`,
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
      resources: [this.stream.arn],
      keptBecause: {
        reason:
          "Firehose describes its Kinesis source with the role before it reads; the emulated delivery lists the shards only",
        actions: ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary"],
        citation: FIREHOSE_ACCESS,
      },
    });
    key.grantDecrypt(this.role, "kinesis", {
      reason:
        "Kinesis decrypts the encrypted stream's records with this key under the reader's credentials; the emulator derives no KMS call behind Kinesis",
      citation: "https://docs.aws.amazon.com/streams/latest/dev/permissions-user-key-KMS.html",
    });
    this.errorPrefix = `${FIREHOSE_ERROR_ROOT}${dataset.prefix}`;
    // Firehose's documented destination permissions: it may read back and list what it delivered.
    const destination = {
      reason: "Firehose's documented S3 destination permissions; the emulated delivery only puts objects",
      citation: FIREHOSE_ACCESS,
    };
    lake.grantReadWrite(this.zone, this.role, dataset.prefix, { keptBecause: destination });
    lake.grantReadWrite(this.zone, this.role, this.errorPrefix, {
      keptBecause: [
        {
          reason: "written only when a record fails conversion or delivery",
          actions: ["s3:PutObject", "kms:GenerateDataKey"],
          varies: true,
        },
        destination,
      ],
    });
    const bucket = lake.zones[this.zone].bucket;
    this.role.addToPolicy({
      sid: "MultipartUploads",
      actions: ["s3:ListBucketMultipartUploads"],
      resources: [bucket.arn],
      keptBecause: { ...destination, varies: true },
    });
    this.role.addToPolicy({
      sid: "DeliveryLogs",
      actions: ["logs:PutLogEvents"],
      resources: [`${this.logGroup.arn}:log-stream:*`],
      keptBecause: {
        reason: "used only on failure: Firehose logs delivery and conversion errors to the stream's log group",
        citation: FIREHOSE_ACCESS,
        varies: true,
      },
    });
    if (parquet) {
      catalog.grantReadTables(this.role, "processed");
      this.role.addToPolicy({
        sid: "TableVersions",
        actions: ["glue:GetTableVersion", "glue:GetTableVersions"],
        resources: catalog.catalogResources("processed"),
      });
      catalog.grantLakeFormation(`firehose-${dataset.name}`, "processed", this.role.arn, "read", this.role);
    }

    this.prefix = dataset.layout.firehosePrefix(dataset.prefix);
    const processors = [
      {
        type: "MetadataExtraction",
        parameters: [
          {
            parameterName: "MetadataExtractionQuery",
            parameterValue: dataset.layout.firehoseQuery(dataset.contract.eventTimeColumn),
          },
          { parameterName: "JsonParsingEngine", parameterValue: "JQ-1.6" },
        ],
      },
      // Raw is newline-delimited JSON, what the raw → processed job and the crawler read.
      ...(parquet
        ? []
        : [{ type: "AppendDelimiterToRecord", parameters: [{ parameterName: "Delimiter", parameterValue: "\\n" }] }]),
    ];
    this.firehose = new KinesisFirehoseDeliveryStream(this, "firehose", {
      name,
      destination: "extended_s3",
      kinesisSourceConfiguration: { kinesisStreamArn: this.stream.arn, roleArn: this.role.arn },
      extendedS3Configuration: {
        roleArn: this.role.arn,
        bucketArn: bucket.arn,
        prefix: this.prefix,
        errorOutputPrefix: `${this.errorPrefix}!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/`,
        bufferingSize: firehose.bufferingSizeMb,
        bufferingInterval: firehose.bufferingIntervalSeconds,
        compressionFormat: parquet ? "UNCOMPRESSED" : "GZIP", // Parquet compresses its own pages
        fileExtension: parquet ? ".snappy.parquet" : ".json.gz",
        // Written with the zone's key, named explicitly: the bucket refuses any other.
        kmsKeyArn: lake.zones[this.zone].key.arn,
        cloudwatchLoggingOptions: { enabled: true, logGroupName: this.logGroup.name, logStreamName: logStream.name },
        dynamicPartitioningConfiguration: { enabled: true, retryDuration: RETRY_SECONDS },
        processingConfiguration: { enabled: true, processors },
        dataFormatConversionConfiguration: parquet
          ? {
              enabled: true,
              inputFormatConfiguration: { deserializer: { openXJsonSerDe: {} } },
              outputFormatConfiguration: { serializer: { parquetSerDe: { compression: "SNAPPY" } } },
              schemaConfiguration: {
                databaseName: catalog.databaseName("processed"),
                tableName: defined(processedTable, `the processed table of dataset ${dataset.name}`).name,
                roleArn: this.role.arn,
                region,
                catalogId: accountId,
              },
            }
          : undefined,
      },
      // The role's policy must exist before Firehose checks it can read the stream.
      dependsOn: [defined(this.role.inlinePolicy, "the Firehose role's inline policy")],
    });
  }

  /** Lets a producer put records (and encrypt them with the stream's key). */
  grantWrite(grantee: IGrantable): void {
    grantee.addToPolicy({
      sid: sidOf("write", this.node.id),
      actions: ["kinesis:PutRecord", "kinesis:PutRecords", "kinesis:DescribeStreamSummary"],
      resources: [this.stream.arn],
    });
    this.props.key.grantEncryptDecrypt(grantee, "kinesis");
  }
}
