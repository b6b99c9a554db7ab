/** Every dataset the platform carries. Add a contract file and list it here: nothing else changes. */
import { clickstream } from "./clickstream";
import type { DatasetContract } from "./contract";
import { customers } from "./customers";
import { orders } from "./orders";
import { shipments } from "./shipments";

export { ContractError, DEFAULT_API_OVERLAP_SECONDS, MAX_API_OVERLAP_SECONDS, PartitionedDataset, defineDataset, resolvedApiIncremental } from "./contract";
export type { ApiIncremental, Column, ColumnType, ConsumerView, DatasetContract, DatasetSource, JobContract, Measure } from "./contract";
export { ENGINE_RULES, ENGINES, LAMBDA_MAX_MB, LAMBDA_MAX_MINUTES, SOURCE_ENGINES, decideEngine, ingestionProblems } from "./ingestion";
export type { Engine, EngineRule, IngestionProfile } from "./ingestion";
export { DEFAULT_ALLOWED_LATENESS_SECONDS, resolveStreamQueries, streamQueryProblems } from "./stream-queries";
export type { ResolvedStreamQueries, StreamMeasure, StreamQueriesDeclaration, StreamQuery, StreamWindow } from "./stream-queries";

export const DATASETS: readonly DatasetContract[] = [orders, customers, clickstream, shipments];
