/**
 * Athena for one environment: a workgroup per audience, each enforcing its configuration (so a
 * client cannot lift the scan cutoff or send results elsewhere), with results encrypted in a
 * dedicated bucket that expires them, CloudWatch metrics on and the engine version pinned; and a
 * named query per dataset that reads one day of its consumer table, pruned by partition.
 */
import { AthenaNamedQuery } from "@cdktf/provider-aws/lib/athena-named-query";
import { AthenaWorkgroup } from "@cdktf/provider-aws/lib/athena-workgroup";
import { Construct } from "constructs";
import { livesIn, type PartitionedDataset, type Zone } from "../../datasets";
import type { Catalog } from "../catalog";
import type { Lake } from "../lake";
import { EncryptionKey } from "../shared/encryption-key";
import { type IGrantable, sidOf } from "../shared/iam";
import type { Naming } from "../shared/naming";
import { mapValues, stackOutput } from "../shared/outputs";
import { SecureBucket } from "../shared/secure-bucket";

/** Workgroups every environment has: people exploring data, and pipelines running SQL steps. */
export const WORKGROUPS = ["analysts", "etl"] as const;
export type WorkgroupName = (typeof WORKGROUPS)[number];

/** Rows a named query returns: enough to see the shape, never a full extract. */
const NAMED_QUERY_LIMIT = 100;

export interface AthenaProps {
  readonly naming: Naming;
  readonly accountId: string;
  readonly region: string;
  readonly lake: Lake;
  readonly catalog: Catalog;
  readonly datasets: readonly PartitionedDataset[];
  /** Per-query scan cutoff every workgroup enforces. @default none (Athena's own limits only) */
  readonly bytesScannedCutoffPerQuery?: number;
  /** Pinned engine, e.g. "Athena engine version 3". */
  readonly engineVersion: string;
  /** Days query results are kept. */
  readonly resultsRetentionDays: number;
  /** Let destroy delete the results bucket and workgroups with their history. @default false */
  readonly forceDestroy?: boolean;
}

export interface NamedQuery {
  readonly query: AthenaNamedQuery;
  /** The SQL, also for running elsewhere (DuckDB stands in for Athena locally). */
  readonly sql: string;
}

export class Athena extends Construct {
  readonly resultsKey: EncryptionKey;
  /** Query results only; expires them after `resultsRetentionDays`. */
  readonly resultsBucket: SecureBucket;
  readonly workgroups: Readonly<Record<WorkgroupName, AthenaWorkgroup>>;
  /** One per dataset with a consumer table, by dataset name, in the analysts workgroup. */
  readonly namedQueries: Readonly<Record<string, NamedQuery>>;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: AthenaProps,
  ) {
    super(scope, id);
    const { naming, accountId, region, lake, catalog } = props;
    const protection = { forceDestroy: props.forceDestroy ?? false };

    this.resultsKey = new EncryptionKey(this, "results-key", { naming, purpose: "athena-results", accountId, region });
    this.resultsBucket = new SecureBucket(this, "results", {
      bucketName: naming.bucket("athena-results"),
      accountId,
      encryptionKey: this.resultsKey,
      accessLogs: { bucket: lake.accessLogs, prefix: "athena-results/" },
      lifecycle: { expireAfterDays: props.resultsRetentionDays },
      noncurrentVersionExpirationDays: 1, // an overwritten result is never read again
      unusedObjectEventsReason:
        "Athena writes query results here for the caller that ran the query; nothing else reacts to them",
      ...protection,
    });

    const workgroups = {} as Record<WorkgroupName, AthenaWorkgroup>;
    for (const name of WORKGROUPS) {
      workgroups[name] = new AthenaWorkgroup(this, name, {
        name: naming.name(name),
        description: name === "analysts" ? "Ad hoc queries over the consumer zone" : "SQL steps of the data pipelines",
        state: "ENABLED",
        forceDestroy: protection.forceDestroy,
        configuration: {
          enforceWorkgroupConfiguration: true, // clients cannot override the cutoff, location or encryption
          publishCloudwatchMetricsEnabled: true,
          bytesScannedCutoffPerQuery: props.bytesScannedCutoffPerQuery,
          engineVersion: { selectedEngineVersion: props.engineVersion },
          resultConfiguration: {
            outputLocation: `s3://${this.resultsBucket.bucketName}/${name}/`,
            expectedBucketOwner: accountId,
            aclConfiguration: { s3AclOption: "BUCKET_OWNER_FULL_CONTROL" },
            encryptionConfiguration: { encryptionOption: "SSE_KMS", kmsKeyArn: this.resultsKey.arn },
          },
        },
      });
    }
    this.workgroups = workgroups;

    const namedQueries: Record<string, NamedQuery> = {};
    for (const dataset of props.datasets.filter((d) => livesIn(d, "consumer"))) {
      const sql = oneDayQuery(dataset, catalog.databaseName("consumer"), dataset.layout.dateKey.rangeStart);
      namedQueries[dataset.name] = {
        sql,
        query: new AthenaNamedQuery(this, `${dataset.name}-query`, {
          name: `${dataset.consumerTableName}-one-day`,
          description: `One day of ${dataset.consumerTableName}; partition projection prunes the scan to that day. Change the date to query another.`,
          workgroup: workgroups.analysts.name,
          database: catalog.databases.consumer.name,
          query: sql,
        }),
      };
    }
    this.namedQueries = namedQueries;

    for (const name of WORKGROUPS) {
      stackOutput(
        this,
        `athena_${name}_workgroup_name`,
        workgroups[name].name,
        `Athena workgroup for ${name === "analysts" ? "ad hoc queries over the consumer zone" : "the pipelines' SQL steps"} (its configuration is enforced)`,
      );
    }
    stackOutput(
      this,
      "athena_results_bucket_name",
      this.resultsBucket.bucketName,
      "S3 bucket of Athena query results, one prefix per workgroup (results expire)",
    );
    stackOutput(
      this,
      "athena_named_query_ids",
      mapValues(namedQueries, (q) => q.query.id),
      "Athena named query reading one day of each dataset's consumer table, by dataset name",
    );
  }

  /**
   * Run queries in one workgroup over the given zones' tables: the Athena calls on that workgroup
   * only, its results prefix, and reading the zones' catalog entries and data.
   */
  grantQuery(grantee: IGrantable, workgroup: WorkgroupName, zones: readonly Zone[]): void {
    const { region, accountId, lake, catalog, naming } = this.props;
    grantee.addToPolicy({
      sid: sidOf("query", workgroup),
      actions: [
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:StopQueryExecution",
        "athena:GetWorkGroup",
      ],
      resources: [
        naming.arn({ service: "athena", region, account: accountId, resource: `workgroup/${naming.name(workgroup)}` }),
      ],
    });
    this.resultsBucket.grantReadWrite(grantee, `${workgroup}/`);
    for (const zone of zones) {
      catalog.grantReadTables(grantee, zone);
      lake.grantRead(zone, grantee);
    }
  }
}

/**
 * SQL reading one day of a dataset's consumer table: explicit columns (Parquet reads only those)
 * and the layout's partition predicate, so projection touches one day's folders.
 */
export function oneDayQuery(dataset: PartitionedDataset, database: string, day: string): string {
  const columns = [...dataset.layout.names, ...dataset.consumerColumns().map((c) => c.name)].map((c) => `"${c}"`);
  return [
    `SELECT ${columns.join(", ")}`,
    `FROM "${database}"."${dataset.consumerTableName}"`,
    `WHERE ${dataset.layout.athenaPredicate(day)}`,
    `LIMIT ${NAMED_QUERY_LIMIT}`,
  ].join("\n");
}
