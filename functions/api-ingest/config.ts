/**
 * The handler's configuration: environment variables only, the same in Lambda (set by the
 * ingestion module) and in the local runner. Every problem is reported at once, naming the
 * variable and the rule, before anything is fetched or written.
 */
// Types only: erased from the bundle, so the function carries none of the contract domain's code.
import type { ApiIncremental, JobContract } from "../../datasets";

export interface IngestConfig {
  readonly dataset: string;
  /** The dataset's job contract (`PartitionedDataset.jobContract()`): the same JSON the Glue jobs get. */
  readonly contract: JobContract;
  /** First page of the API. */
  readonly apiUrl: string;
  /** Secrets Manager secret with the API credentials; no credentials are sent without one. */
  readonly apiSecretArn?: string;
  readonly rawBucket: string;
  readonly rawKmsKeyArn: string;
  readonly quarantineBucket: string;
  readonly quarantineKmsKeyArn: string;
  readonly deadLetterQueueUrl: string;
  readonly maxAttempts: number;
  readonly backoffBaseMs: number;
  readonly requestTimeoutMs: number;
  readonly maxPages: number;
  readonly maxPageBytes: number;
  readonly maxRecordBytes: number;
  /** Response field holding the page's records. */
  readonly itemsField: string;
  /** Response field holding the next page's URL (absolute or relative); absent or null on the last page. */
  readonly nextField: string;
  /**
   * How the API is read (the contract's `source.incremental`, overlap resolved): from the high-water
   * mark minus the overlap (`since`), or in full (`full`, the default when INCREMENTAL is unset).
   */
  readonly incremental:
    | Extract<ApiIncremental, { kind: "full" }>
    | { readonly kind: "since"; readonly parameter: string; readonly overlapSeconds: number };
  /** Where the high-water mark lives (an S3 object under the state bucket); set for `since` only. */
  readonly state?: { readonly bucket: string; readonly key: string; readonly kmsKeyArn: string };
  /** Path-style S3 addressing (the emulator on 127.0.0.1 has no virtual-host buckets). */
  readonly s3ForcePathStyle: boolean;
}

/** Defaults of the optional variables (the ingestion module sets them all from the environment's config). */
export const DEFAULTS = {
  MAX_ATTEMPTS: 5,
  BACKOFF_BASE_MS: 500,
  REQUEST_TIMEOUT_MS: 30_000,
  MAX_PAGES: 1000,
  MAX_PAGE_BYTES: 10 * 1024 * 1024,
  MAX_RECORD_BYTES: 256 * 1024,
  ITEMS_FIELD: "items",
  NEXT_FIELD: "next",
} as const;

export class ConfigurationError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`api-ingest configuration is invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigurationError";
  }
}

export function loadConfig(env: Readonly<Record<string, string | undefined>>): IngestConfig {
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name];
    if (value === undefined || value.trim() === "") {
      problems.push(`${name}: is required`);
      return "";
    }
    return value.trim();
  };
  const integer = (name: keyof typeof DEFAULTS, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return DEFAULTS[name] as number;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name}: must be a whole number from ${min} to ${max} (got "${raw}")`);
      return DEFAULTS[name] as number;
    }
    return value;
  };
  const field = (name: "ITEMS_FIELD" | "NEXT_FIELD"): string => {
    const value = env[name] ?? DEFAULTS[name];
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) problems.push(`${name}: must be a JSON field name (got "${value}")`);
    return value;
  };

  const dataset = required("DATASET");
  const apiUrl = required("API_URL");
  if (apiUrl) {
    try {
      const url = new URL(apiUrl);
      if (url.protocol !== "https:" && url.protocol !== "http:")
        problems.push(`API_URL: must be an http(s) URL (got "${apiUrl}")`);
    } catch {
      problems.push(`API_URL: must be an absolute URL (got "${apiUrl}")`);
    }
  }
  const incremental = incrementalFrom(env.INCREMENTAL, problems);
  const state =
    incremental.kind === "since"
      ? {
          bucket: required("STATE_BUCKET"),
          kmsKeyArn: required("STATE_KMS_KEY_ARN"),
          key: `${dataset}/api-ingest/mark.json`,
        }
      : undefined;
  const contractText = required("DATASET_CONTRACT");
  let contract = undefined as unknown as JobContract;
  if (contractText) {
    try {
      contract = JSON.parse(contractText);
      problems.push(...contractProblems(contract, dataset));
    } catch (error) {
      problems.push(`DATASET_CONTRACT: must be the dataset's job contract as JSON (${(error as Error).message})`);
    }
  }
  const config: IngestConfig = {
    dataset,
    contract,
    apiUrl,
    apiSecretArn: env.API_SECRET_ARN?.trim() || undefined,
    rawBucket: required("RAW_BUCKET"),
    rawKmsKeyArn: required("RAW_KMS_KEY_ARN"),
    quarantineBucket: required("QUARANTINE_BUCKET"),
    quarantineKmsKeyArn: required("QUARANTINE_KMS_KEY_ARN"),
    deadLetterQueueUrl: required("DEAD_LETTER_QUEUE_URL"),
    maxAttempts: integer("MAX_ATTEMPTS", 1, 10),
    backoffBaseMs: integer("BACKOFF_BASE_MS", 0, 60_000),
    requestTimeoutMs: integer("REQUEST_TIMEOUT_MS", 100, 120_000),
    maxPages: integer("MAX_PAGES", 1, 100_000),
    maxPageBytes: integer("MAX_PAGE_BYTES", 64, 100 * 1024 * 1024),
    maxRecordBytes: integer("MAX_RECORD_BYTES", 16, 10 * 1024 * 1024),
    itemsField: field("ITEMS_FIELD"),
    nextField: field("NEXT_FIELD"),
    incremental,
    state,
    s3ForcePathStyle: (env.S3_FORCE_PATH_STYLE ?? "").toLowerCase() === "true",
  };
  if (problems.length) throw new ConfigurationError(problems);
  return config;
}

/** Unset: a full read (safe: it never skips a record). Otherwise the contract's declaration as JSON. */
function incrementalFrom(text: string | undefined, problems: string[]): IngestConfig["incremental"] {
  const full = { kind: "full", reason: "INCREMENTAL is not set" } as const;
  if (text === undefined || text.trim() === "") return full;
  let value: { kind?: unknown; parameter?: unknown; overlapSeconds?: unknown; reason?: unknown };
  try {
    value = JSON.parse(text);
  } catch {
    problems.push(
      `INCREMENTAL: must be JSON: {"kind": "since", "parameter": "…", "overlapSeconds": N} or {"kind": "full", "reason": "…"} (got "${text}")`,
    );
    return full;
  }
  if (value?.kind === "full") return { kind: "full", reason: typeof value.reason === "string" ? value.reason : "" };
  if (value?.kind !== "since") {
    problems.push(`INCREMENTAL: kind must be "since" or "full" (got ${JSON.stringify(value?.kind)})`);
    return full;
  }
  const before = problems.length;
  if (typeof value.parameter !== "string" || !/^[A-Za-z_][A-Za-z0-9_.\-\[\]]{0,63}$/.test(value.parameter)) {
    problems.push(`INCREMENTAL: parameter must be a query parameter name (got ${JSON.stringify(value.parameter)})`);
  }
  const overlap = value.overlapSeconds;
  if (typeof overlap !== "number" || !Number.isInteger(overlap) || overlap < 0 || overlap > 86_400) {
    problems.push(
      `INCREMENTAL: overlapSeconds must be a whole number of seconds from 0 to 86400 (got ${JSON.stringify(overlap)})`,
    );
  }
  return problems.length > before
    ? full
    : { kind: "since", parameter: value.parameter as string, overlapSeconds: overlap as number };
}

function contractProblems(contract: JobContract, dataset: string): string[] {
  const problems: string[] = [];
  if (typeof contract !== "object" || contract === null) return ["DATASET_CONTRACT: must be a JSON object"];
  if (dataset && contract.name !== dataset)
    problems.push(`DATASET_CONTRACT: is the contract of "${contract.name}", not of DATASET "${dataset}"`);
  if (!Array.isArray(contract.columns) || contract.columns.length === 0)
    problems.push("DATASET_CONTRACT: columns must list the dataset's columns");
  if (!Array.isArray(contract.primaryKey) || contract.primaryKey.length === 0)
    problems.push("DATASET_CONTRACT: primaryKey must name at least one column");
  if (!Array.isArray(contract.partitioning?.keys) || contract.partitioning.keys.length === 0) {
    problems.push("DATASET_CONTRACT: partitioning.keys must list the environment's partition keys");
  }
  const names = new Set((contract.columns ?? []).map((c) => c.name));
  if (contract.versionColumn !== undefined && !names.has(contract.versionColumn))
    problems.push(`DATASET_CONTRACT: versionColumn "${contract.versionColumn}" is not a column`);
  if (!names.has(contract.eventTimeColumn))
    problems.push(`DATASET_CONTRACT: eventTimeColumn "${contract.eventTimeColumn}" is not a column`);
  for (const key of contract.partitioning?.keys ?? []) {
    if (!names.has(key.column))
      problems.push(`DATASET_CONTRACT: partition key "${key.name}" reads "${key.column}", which is not a column`);
  }
  return problems;
}
