/**
 * The catalog: no data lands without metadata. One Glue database per lake zone; processed and
 * consumer tables generated from the dataset contracts (Parquet, partition projection from the
 * environment's partition spec, so no partition is ever registered by hand); raw-zone crawlers
 * that discover what arrives; a Glue security configuration and catalog encryption under one
 * catalog key; and, when the environment opts in, Lake Formation governing who reads which zone.
 */
import { dependable } from "cdktf";
import { GlueCatalogDatabase } from "@cdktf/provider-aws/lib/glue-catalog-database";
import { GlueCatalogTable } from "@cdktf/provider-aws/lib/glue-catalog-table";
import { GlueCrawler } from "@cdktf/provider-aws/lib/glue-crawler";
import { GlueDataCatalogEncryptionSettings } from "@cdktf/provider-aws/lib/glue-data-catalog-encryption-settings";
import { GlueSecurityConfiguration } from "@cdktf/provider-aws/lib/glue-security-configuration";
import { Construct } from "constructs";
import { livesIn, ZONES, type Column, type PartitionedDataset, type Zone } from "../../datasets";
import type { Lake } from "../lake";
import { EncryptionKey } from "../shared/encryption-key";
import { IGrantable, ServiceRole, sidOf, type KeptReason } from "../shared/iam";
import type { Naming } from "../shared/naming";
import { mapValues, stackOutput } from "../shared/outputs";
import { skipPolicyCheck } from "../shared/policy-checks";
import { LakeFormation, type LakeFormationAccess, type LakeFormationProps } from "./lake-formation";

export { LakeFormation } from "./lake-formation";
export type { LakeFormationAccess, LakeFormationProps } from "./lake-formation";

/** Zones whose tables the catalog generates from contracts (raw is discovered by crawlers). */
export const TABLE_ZONES = ["processed", "consumer"] as const;
export type TableZone = (typeof TABLE_ZONES)[number];

/** Hive/Glue classes for Parquet tables (what Athena, Spectrum and Spark expect). */
export const PARQUET = {
  inputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
  outputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
  serde: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
} as const;

/**
 * Crawlers only look at folders added since their last run. AWS then requires the schema-change
 * policy to be LOG/LOG, which is also what we want: the contract, not the crawler, owns the schema.
 */
export const RECRAWL_BEHAVIOR = "CRAWL_NEW_FOLDERS_ONLY";
export const SCHEMA_CHANGE_POLICY = { updateBehavior: "LOG", deleteBehavior: "LOG" } as const;

/** Crawler output settings: one table per dataset folder, new partitions inherit the table's schema. */
export const CRAWLER_CONFIGURATION = JSON.stringify({
  Version: 1.0,
  Grouping: { TableLevelConfiguration: 2, TableGroupingPolicy: "CombineCompatibleSchemas" },
  CrawlerOutput: { Partitions: { AddOrUpdateBehavior: "InheritFromTable" } },
});

/** Files writers leave next to data that are not data. */
const CRAWLER_EXCLUSIONS = ["**/_SUCCESS", "**/_temporary/**", "**/*.crc"];

export interface CatalogProps {
  readonly naming: Naming;
  readonly accountId: string;
  readonly region: string;
  readonly lake: Lake;
  /** Contracts with the environment's partition spec applied; every table and crawler comes from these. */
  readonly datasets: readonly PartitionedDataset[];
  /** Glue cron for the raw-zone crawlers. */
  readonly crawlerSchedule: string;
  /** Govern the lake with Lake Formation. @default off (IAM policies alone) */
  readonly lakeFormation?: LakeFormationProps;
}

/** The tables generated for one dataset (a zone is absent when the contract does not live there). */
export interface DatasetTables {
  readonly dataset: PartitionedDataset;
  readonly processed?: GlueCatalogTable;
  readonly consumer?: GlueCatalogTable;
}

export class Catalog extends Construct {
  /** One database per lake zone. */
  readonly databases: Readonly<Record<Zone, GlueCatalogDatabase>>;
  /** Generated tables per dataset name. */
  readonly tables: Readonly<Record<string, DatasetTables>>;
  /** Raw-zone crawler per dataset name (datasets that live in raw). */
  readonly crawlers: Readonly<Record<string, GlueCrawler>>;
  /** The role every raw-zone crawler runs as. */
  readonly crawlerRole: ServiceRole;
  /** Encrypts catalog metadata, connection passwords, Glue CloudWatch logs and job bookmarks. */
  readonly key: EncryptionKey;
  readonly securityConfiguration: GlueSecurityConfiguration;
  /** Name of the Glue security configuration: Glue jobs and crawlers set it. */
  readonly securityConfigurationName: string;
  readonly encryptionSettings: GlueDataCatalogEncryptionSettings;
  /** Lake Formation settings, registrations and grants; absent when the environment does not opt in. */
  readonly lakeFormation?: LakeFormation;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: CatalogProps,
  ) {
    super(scope, id);
    const { naming, accountId, region, lake } = props;

    this.key = new EncryptionKey(this, "key", { naming, purpose: "catalog", accountId, region });
    // Glue writes crawler and job logs encrypted with this key; CloudWatch Logs needs to use it for those groups only.
    this.key.allowCloudWatchLogs("GlueLogs", {
      ArnLike: {
        "kms:EncryptionContext:aws:logs:arn": naming.arn({
          service: "logs",
          region,
          account: accountId,
          resource: "log-group:/aws-glue/*",
        }),
      },
    });

    this.encryptionSettings = new GlueDataCatalogEncryptionSettings(this, "encryption", {
      catalogId: accountId,
      dataCatalogEncryptionSettings: {
        encryptionAtRest: { catalogEncryptionMode: "SSE-KMS", sseAwsKmsKeyId: this.key.arn },
        connectionPasswordEncryption: { returnConnectionPasswordEncrypted: true, awsKmsKeyId: this.key.arn },
      },
    });

    this.securityConfigurationName = naming.name("glue");
    this.securityConfiguration = new GlueSecurityConfiguration(this, "security-configuration", {
      name: this.securityConfigurationName,
      encryptionConfiguration: {
        cloudwatchEncryption: { cloudwatchEncryptionMode: "SSE-KMS", kmsKeyArn: this.key.arn },
        jobBookmarksEncryption: { jobBookmarksEncryptionMode: "CSE-KMS", kmsKeyArn: this.key.arn },
        // Each zone bucket encrypts with its own key by default and refuses writes that name another
        // key; one key here would be sent with every write and refused by all zones but one.
        s3Encryption: { s3EncryptionMode: "DISABLED" },
      },
    });
    skipPolicyCheck(
      this.securityConfiguration,
      "CKV_AWS_99",
      "S3 writes take each zone bucket's default SSE-KMS key, which the bucket policies enforce; one key here would be sent with every write and refused by every zone but one (CloudWatch and bookmarks are SSE-KMS/CSE-KMS)",
    );

    const databases = {} as Record<Zone, GlueCatalogDatabase>;
    for (const zone of ZONES) {
      databases[zone] = new GlueCatalogDatabase(this, `${zone}-database`, {
        name: this.databaseName(zone),
        description: `${zone} zone of the ${naming.prefix} lake`,
        locationUri: lake.uri(zone),
      });
    }
    this.databases = databases;

    if (props.lakeFormation) {
      this.lakeFormation = new LakeFormation(this, "lake-formation", {
        naming,
        accountId,
        lake,
        databases,
        ...props.lakeFormation,
      });
      // Created after the Lake Formation settings, so no IAM-only default grant is attached to them.
      for (const zone of ZONES) databases[zone].dependsOn = [dependable(this.lakeFormation.settings)];
    }

    const tables: Record<string, DatasetTables> = {};
    for (const dataset of props.datasets) {
      tables[dataset.name] = {
        dataset,
        processed: livesIn(dataset, "processed")
          ? this.parquetTable(dataset, "processed", dataset.name, dataset.dataColumns, dataset.contract.description)
          : undefined,
        consumer: livesIn(dataset, "consumer")
          ? this.parquetTable(
              dataset,
              "consumer",
              dataset.consumerTableName,
              dataset.consumerColumns(),
              consumerDescription(dataset),
            )
          : undefined,
      };
    }
    this.tables = tables;

    this.crawlerRole = new ServiceRole(this, "crawler-role", {
      naming,
      name: "raw-crawler",
      service: "glue.amazonaws.com",
      accountId,
      // Glue's documented crawler-role trust has no source conditions, and a condition it does not send
      // would stop every crawl. Only principals of this account can pass the role to a crawler (iam:PassRole).
      confusedDeputyConditions: false,
      description: "Raw-zone crawlers: read dataset folders, register tables and partitions in the raw database",
    });
    this.grantWriteTables(this.crawlerRole, "raw", {
      reason:
        "a crawl reads what the catalog holds and updates a table whose schema changed and partitions it finds again; a first crawl of new folders only creates them",
      citation: "https://docs.aws.amazon.com/glue/latest/dg/crawler-prereqs.html",
    });
    this.grantSecurityConfiguration(this.crawlerRole, "crawlers");

    const crawlers: Record<string, GlueCrawler> = {};
    for (const dataset of props.datasets.filter((d) => livesIn(d, "raw"))) {
      lake.grantRead("raw", this.crawlerRole, dataset.prefix);
      crawlers[dataset.name] = new GlueCrawler(this, `${dataset.name}-crawler`, {
        name: naming.name("raw", dataset.name),
        description: `Discovers new ${dataset.name} folders in the raw zone`,
        role: this.crawlerRole.arn,
        databaseName: databases.raw.name,
        schedule: props.crawlerSchedule,
        securityConfiguration: this.securityConfiguration.name,
        s3Target: [{ path: this.location("raw", dataset), exclusions: CRAWLER_EXCLUSIONS }],
        recrawlPolicy: { recrawlBehavior: RECRAWL_BEHAVIOR },
        schemaChangePolicy: { ...SCHEMA_CHANGE_POLICY },
        configuration: CRAWLER_CONFIGURATION,
      });
    }
    this.crawlers = crawlers;

    const lakeFormation = this.lakeFormation;
    if (lakeFormation && props.lakeFormation) {
      lakeFormation.grantZone("crawlers", "raw", this.crawlerRole.arn, "write");
      lakeFormation.grantDataAccess(this.crawlerRole);
      props.lakeFormation.consumers.forEach((principal, i) =>
        lakeFormation.grantZone(`consumer-${i}`, "consumer", principal, "read"),
      );
    }

    for (const zone of ZONES)
      stackOutput(
        this,
        `catalog_${zone}_database_name`,
        databases[zone].name,
        `Glue database of the lake's ${zone} zone`,
      );
    stackOutput(
      this,
      "catalog_security_configuration_name",
      this.securityConfiguration.name,
      "Glue security configuration every Glue job and crawler runs under (logs and bookmarks under the catalog key)",
    );
    stackOutput(
      this,
      "catalog_crawler_names",
      mapValues(crawlers, (c) => c.name),
      "Raw-zone Glue crawler per dataset that lives in raw, by dataset name",
    );
  }

  /**
   * Lake Formation access for `principal` to one zone, plus the IAM permission to use it when
   * `grantee` is given. Does nothing where the environment has not opted in to Lake Formation,
   * so modules call it unconditionally.
   */
  grantLakeFormation(
    id: string,
    zone: Zone,
    principal: string,
    access: LakeFormationAccess,
    grantee?: IGrantable,
  ): void {
    if (!this.lakeFormation) return;
    this.lakeFormation.grantZone(id, zone, principal, access);
    if (grantee) this.lakeFormation.grantDataAccess(grantee);
  }

  /** "<project>_<env>_<zone>". */
  databaseName(zone: Zone): string {
    return this.props.naming.glue(zone);
  }

  /** Where a dataset's data lives in a zone: "s3://<zone bucket>/<dataset>/". */
  location(zone: Zone, dataset: PartitionedDataset): string {
    return this.props.lake.uri(zone, dataset.prefix);
  }

  /** Read table definitions (and partitions) of one zone's database, decrypting catalog metadata. */
  grantReadTables(grantee: IGrantable, zone: Zone): void {
    grantee.addToPolicy({
      sid: sidOf("read", zone, "tables"),
      actions: [
        "glue:GetDatabase",
        "glue:GetTable",
        "glue:GetTables",
        "glue:GetPartition",
        "glue:GetPartitions",
        "glue:BatchGetPartition",
      ],
      resources: this.catalogResources(zone),
    });
    this.key.grantDecrypt(grantee, "glue", CATALOG_KEY);
  }

  /** Create and update tables and partitions in one zone's database (crawlers, jobs that register output). */
  grantWriteTables(grantee: IGrantable, zone: Zone, keptBecause?: KeptReason): void {
    grantee.addToPolicy({
      sid: sidOf("write", zone, "tables"),
      actions: [
        "glue:GetDatabase",
        "glue:GetTable",
        "glue:GetTables",
        "glue:GetPartition",
        "glue:GetPartitions",
        "glue:BatchGetPartition",
        "glue:CreateTable",
        "glue:UpdateTable",
        "glue:CreatePartition",
        "glue:BatchCreatePartition",
        "glue:UpdatePartition",
        "glue:BatchUpdatePartition",
      ],
      resources: this.catalogResources(zone),
      ...(keptBecause ? { keptBecause } : {}),
    });
    this.key.grantEncryptDecrypt(grantee, "glue", CATALOG_KEY);
  }

  /**
   * What a role running under the security configuration needs: write its encrypted Glue log
   * groups (`/aws-glue/<kind>*`) and encrypt job bookmarks with the catalog key.
   */
  grantSecurityConfiguration(grantee: IGrantable, kind: "crawlers" | "jobs"): void {
    const { region, accountId, naming } = this.props;
    const groups = naming.arn({
      service: "logs",
      region,
      account: accountId,
      resource: `log-group:/aws-glue/${kind}*`,
    });
    grantee.addToPolicy({
      sid: "EncryptedGlueLogs",
      actions: ["logs:CreateLogGroup", "logs:AssociateKmsKey", "logs:CreateLogStream", "logs:PutLogEvents"],
      resources: [groups, `${groups}:log-stream:*`],
      keptBecause: {
        reason:
          "Glue creates the security configuration's KMS-encrypted log groups and writes the run's logs under the role; the emulated Glue writes no CloudWatch logs",
        citation: "https://docs.aws.amazon.com/glue/latest/dg/console-security-configurations.html",
      },
    });
    // Bookmarks are encrypted client-side by the job itself, so these calls do not come through a service.
    grantee.addToPolicy({
      sid: "SecurityConfigurationKey",
      actions: ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
      resources: [this.key.arn],
      keptBecause: {
        reason:
          "the security configuration's CloudWatch and job-bookmark encryption use this key under the role; the emulated Glue encrypts neither",
        citation: "https://docs.aws.amazon.com/glue/latest/dg/encryption-security-configuration.html",
      },
    });
  }

  /** Catalog, database and table ARNs of one zone, for IAM statements. */
  catalogResources(zone: Zone): string[] {
    const { region, accountId, naming } = this.props;
    const arn = (resource: string) => naming.arn({ service: "glue", region, account: accountId, resource });
    const database = this.databaseName(zone);
    return [arn("catalog"), arn(`database/${database}`), arn(`table/${database}/*`)];
  }

  private parquetTable(
    dataset: PartitionedDataset,
    zone: TableZone,
    name: string,
    columns: readonly Column[],
    description: string,
  ): GlueCatalogTable {
    const location = this.location(zone, dataset);
    return new GlueCatalogTable(this, `${dataset.name}-${zone}`, {
      name,
      databaseName: this.databases[zone].name,
      description,
      tableType: "EXTERNAL_TABLE",
      parameters: {
        EXTERNAL: "TRUE",
        classification: "parquet",
        "parquet.compression": "SNAPPY",
        // Athena and Spectrum compute partitions from the spec; nothing has to register them.
        ...dataset.layout.projectionParameters(location),
      },
      partitionKeys: dataset.layout.glueColumns(),
      storageDescriptor: {
        location,
        inputFormat: PARQUET.inputFormat,
        outputFormat: PARQUET.outputFormat,
        serDeInfo: {
          name: "parquet",
          serializationLibrary: PARQUET.serde,
          parameters: { "serialization.format": "1" },
        },
        columns: columns.map((c) => ({ name: c.name, type: c.type, comment: c.description.slice(0, 255) })),
      },
    });
  }
}

function consumerDescription(dataset: PartitionedDataset): string {
  const view = dataset.consumer;
  if (view.kind === "curated")
    return `${dataset.contract.description} Curated: deduplicated, contract-checked records.`;
  return `${dataset.contract.description} Aggregated by ${view.groupBy.join(", ")} per partition: ${view.measures.map((m) => m.name).join(", ")}.`;
}

/** Why the catalog key's grants stay where a run does not use them. */
const CATALOG_KEY: KeptReason = {
  reason:
    "Glue decrypts and encrypts the encrypted Data Catalog's metadata with this key under the caller's credentials",
  citation: "https://docs.aws.amazon.com/glue/latest/dg/encrypt-glue-data-catalog.html",
};
