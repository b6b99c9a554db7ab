import type { PartitionedDataset } from "../../datasets";
import type { Catalog } from "../catalog";
import type { Lake } from "../lake";
import type { Network } from "../network";
import type { Naming } from "../shared/naming";

/** What every ingestion engine is built against; `Ingestion` hands it on to the engines unchanged. */
export interface IngestionContext {
  readonly naming: Naming;
  readonly accountId: string;
  readonly region: string;
  readonly lake: Lake;
  readonly catalog: Catalog;
  /** Private subnets and the Glue security group for the JDBC connection and EMR Serverless. */
  readonly network: Network;
  /** Contracts with the environment's partition spec; each one's engine decides what is built for it. */
  readonly datasets: readonly PartitionedDataset[];
}
