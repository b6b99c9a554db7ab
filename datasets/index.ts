/**
 * The dataset domain: every dataset the platform carries, the contract they are written in, the
 * lake zones they live in and the partition layout they are stored by. Add a contract file and list
 * it here: nothing else changes. Nothing in this folder imports the infrastructure modules.
 */
import { clickstream } from "./clickstream";
import type { Dataset } from "./contract";
import { customers } from "./customers";
import { orders } from "./orders";
import { shipments } from "./shipments";

export {
  ContractError,
  DatasetSchema,
  DEFAULT_API_OVERLAP_SECONDS,
  MAX_API_OVERLAP_SECONDS,
  PartitionedDataset,
  PROCESSED_MODES,
  SCALAR_TYPES,
  defaultProcessed,
  defineDataset,
  resolvedApiIncremental,
} from "./contract";
export type {
  ApiIncremental,
  Column,
  ColumnType,
  ConsumerView,
  Dataset,
  DatasetContract,
  DatasetSource,
  Immutable,
  JobContract,
  Measure,
  ProcessedMode,
} from "./contract";
export type { ContractProblem } from "./errors";
export {
  ENGINE_RULES,
  ENGINES,
  IngestionProfileSchema,
  LAMBDA_MAX_MB,
  LAMBDA_MAX_MINUTES,
  SOURCE_ENGINES,
  decideEngine,
  ingestionProblems,
} from "./ingestion";
export type { Engine, EngineRule, IngestionProfile } from "./ingestion";
export { PartitionLayout } from "./partitioning";
export type { PartitionSource } from "./partitioning";
export { DEFAULT_DATASET_ZONES, ZONES, livesIn } from "./zones";
export type { Zone } from "./zones";
export { DEFAULT_ALLOWED_LATENESS_SECONDS, resolveStreamQueries, streamQueryProblems } from "./stream-queries";
export type {
  ResolvedStreamQueries,
  StreamMeasure,
  StreamQueriesDeclaration,
  StreamQuery,
  StreamWindow,
} from "./stream-queries";

export const DATASETS: readonly Dataset[] = [orders, customers, clickstream, shipments];
