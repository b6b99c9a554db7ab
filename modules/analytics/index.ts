/**
 * Everything that queries the lake: Athena (always), Redshift Serverless with Spectrum (unless the
 * environment turns it off) and QuickSight (opt-in). All of it reads the consumer zone through
 * the catalog's tables; none of it can read another zone.
 */
import type { AthenaConfig } from "../../environments";
import { Construct } from "constructs";
import type { PartitionedDataset } from "../../datasets";
import type { Catalog } from "../catalog";
import type { Lake } from "../lake";
import type { Network } from "../network";
import { ValidationError } from "../shared/errors";
import type { Naming } from "../shared/naming";
import { Athena } from "./athena";
import { QuickSight } from "./quicksight";
import { Warehouse } from "./warehouse";

export { Athena, WORKGROUPS, oneDayQuery } from "./athena";
export type { NamedQuery, WorkgroupName } from "./athena";
export { QuickSight, quickSightType } from "./quicksight";
export { EXTERNAL_SCHEMA, WAREHOUSE_DATABASE, Warehouse, externalSchemaSql } from "./warehouse";

export interface AnalyticsProps {
  readonly naming: Naming;
  readonly accountId: string;
  readonly region: string;
  readonly lake: Lake;
  readonly catalog: Catalog;
  readonly datasets: readonly PartitionedDataset[];
  /** Required when `redshift` is set: the workgroup runs in its private subnets. */
  readonly network?: Network;
  /** The environment's `athena` (documented in environments/schema.ts). */
  readonly athena: AthenaConfig;
  /** Redshift Serverless capacity. @default no warehouse */
  readonly redshift?: { readonly baseCapacityRpu: number; readonly maxCapacityRpu: number };
  /** Share QuickSight datasets with this principal. @default no QuickSight resources */
  readonly quicksight?: { readonly principalArn: string };
  /** @default false */
  readonly forceDestroy?: boolean;
}

export class Analytics extends Construct {
  readonly athena: Athena;
  /** Absent where the environment turns the warehouse off. */
  readonly warehouse?: Warehouse;
  /** Absent unless the environment opts in. */
  readonly quicksight?: QuickSight;

  constructor(scope: Construct, id: string, props: AnalyticsProps) {
    super(scope, id);
    const { naming, accountId, region, lake, catalog, datasets } = props;
    const protection = { forceDestroy: props.forceDestroy };

    this.athena = new Athena(this, "athena", {
      naming,
      accountId,
      region,
      lake,
      catalog,
      datasets,
      ...props.athena,
      ...protection,
    });

    if (props.redshift) {
      if (!props.network)
        throw new ValidationError(
          "ANALYTICS_WAREHOUSE_WITHOUT_NETWORK",
          "redshift needs a network (the workgroup runs in private subnets)",
          this,
        );
      this.warehouse = new Warehouse(this, "warehouse", {
        naming,
        accountId,
        region,
        lake,
        catalog,
        network: props.network,
        ...props.redshift,
      });
    }

    if (props.quicksight) {
      this.quicksight = new QuickSight(this, "quicksight", {
        naming,
        accountId,
        catalog,
        datasets,
        workgroupName: this.athena.workgroups.analysts.name,
        principalArn: props.quicksight.principalArn,
      });
      catalog.grantLakeFormation("quicksight", "consumer", props.quicksight.principalArn, "read");
    }
  }
}
