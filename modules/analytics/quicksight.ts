/**
 * QuickSight over the lake: one Athena data source (through the analysts workgroup, so its
 * cutoff and encrypted results apply to dashboards too) and a direct-query dataset per consumer
 * table, both shared with one configured user or group.
 */
import { QuicksightDataSet } from "@cdktf/provider-aws/lib/quicksight-data-set";
import { QuicksightDataSource } from "@cdktf/provider-aws/lib/quicksight-data-source";
import { Construct } from "constructs";
import { livesIn, type ColumnType, type PartitionedDataset } from "../../datasets";
import type { Catalog } from "../catalog";
import type { Naming } from "../shared/naming";

/** What the principal may do with the data source: use it in datasets, not change or delete it. */
export const DATA_SOURCE_ACTIONS = [
  "quicksight:DescribeDataSource",
  "quicksight:DescribeDataSourcePermissions",
  "quicksight:PassDataSource",
];
/** What the principal may do with each dataset: build analyses on it, not change or delete it. */
export const DATA_SET_ACTIONS = [
  "quicksight:DescribeDataSet",
  "quicksight:DescribeDataSetPermissions",
  "quicksight:PassDataSet",
  "quicksight:DescribeIngestion",
  "quicksight:ListIngestions",
];

export interface QuickSightProps {
  readonly naming: Naming;
  readonly accountId: string;
  readonly catalog: Catalog;
  readonly datasets: readonly PartitionedDataset[];
  /** Athena workgroup the data source queries through. */
  readonly workgroupName: string;
  /** QuickSight user or group ARN the data source and datasets are shared with. */
  readonly principalArn: string;
}

export class QuickSight extends Construct {
  readonly dataSource: QuicksightDataSource;
  /** One per dataset with a consumer table, by dataset name. */
  readonly dataSets: Readonly<Record<string, QuicksightDataSet>>;

  constructor(scope: Construct, id: string, props: QuickSightProps) {
    super(scope, id);
    const { naming, accountId, catalog, principalArn } = props;
    this.dataSource = new QuicksightDataSource(this, "athena", {
      awsAccountId: accountId,
      dataSourceId: naming.name("athena"),
      name: `${naming.prefix} lake (Athena)`,
      type: "ATHENA",
      parameters: { athena: { workGroup: props.workgroupName } },
      permission: [{ principal: principalArn, actions: DATA_SOURCE_ACTIONS }],
    });

    const dataSets: Record<string, QuicksightDataSet> = {};
    for (const dataset of props.datasets.filter((d) => livesIn(d, "consumer"))) {
      const table = dataset.consumerTableName;
      const columns = [
        ...dataset.layout.glueColumns().map((c) => ({ name: c.name, type: "STRING" })),
        ...dataset.consumerColumns().map((c) => ({ name: c.name, type: quickSightType(c.type) })),
      ];
      dataSets[dataset.name] = new QuicksightDataSet(this, `${dataset.name}-data-set`, {
        awsAccountId: accountId,
        dataSetId: naming.name(table.replace(/_/g, "-")),
        name: `${table} (${naming.prefix})`,
        importMode: "DIRECT_QUERY", // dashboards read the lake; no SPICE copy to keep in sync or pay for
        physicalTableMap: [
          {
            physicalTableMapId: table.replace(/_/g, "-"),
            relationalTable: {
              dataSourceArn: this.dataSource.arn,
              catalog: "AwsDataCatalog",
              schema: catalog.databases.consumer.name,
              name: table,
              inputColumns: columns,
            },
          },
        ],
        permissions: [{ principal: principalArn, actions: DATA_SET_ACTIONS }],
      });
    }
    this.dataSets = dataSets;
  }
}

/** QuickSight's input column type for a contract column type. */
export function quickSightType(type: ColumnType): string {
  if (type === "int" || type === "bigint") return "INTEGER";
  if (type === "double" || type.startsWith("decimal")) return "DECIMAL";
  if (type === "boolean") return "BOOLEAN";
  if (type === "date" || type === "timestamp") return "DATETIME";
  return "STRING";
}
