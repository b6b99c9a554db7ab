/**
 * The code package of a stream-SQL application: the entry point (stream-sql/app/main.py), the
 * dataset's generated job (job.json: every statement, from modules/streaming/flink-sql.ts) and the
 * Kinesis SQL connector jar (lib/<jar>).
 *
 * The jar is a pinned input (stream-sql/connector.json: Maven coordinates and sha256), not a file in
 * the repository. The package's content hash is computed from the code, the job and the jar's
 * pinned sha256, so synth, validate and plan need no jar; `npm run stream-sql:package` downloads the
 * jar, verifies it against the pin and writes each package where the stack's S3 object reads it.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { PartitionedDataset } from "../../datasets";
import { ROOT } from "../shared/bundle";
import { RUNTIME_OPTIONS, streamSqlJob, type StreamSqlJob } from "./flink-sql";

export const APP_ENTRY = "stream-sql/app/main.py";
export const CONNECTOR_PIN = "stream-sql/connector.json";
/** Where a stack's S3 object reads each package, relative to the stack's directory (where terraform runs). */
export const PACKAGE_DIR = "stream-sql-packages";

export interface ConnectorPin {
  readonly groupId: string;
  readonly artifactId: string;
  readonly version: string;
  readonly repository: string;
  /** sha256 of the jar, hex; null until someone with access to the repository records it. */
  readonly sha256: string | null;
}

export function connectorPin(): ConnectorPin {
  return JSON.parse(readFileSync(join(ROOT, CONNECTOR_PIN), "utf8")) as ConnectorPin;
}

/** "flink-sql-connector-kinesis-5.0.0-1.20.jar" */
export function connectorJarName(pin: ConnectorPin): string {
  return `${pin.artifactId}-${pin.version}.jar`;
}

/** The jar's address in its Maven repository. */
export function connectorUrl(pin: ConnectorPin, repository = pin.repository): string {
  return `${repository.replace(/\/$/, "")}/${pin.groupId.replace(/\./g, "/")}/${pin.artifactId}/${pin.version}/${connectorJarName(pin)}`;
}

/** The job JSON the application runs: the generated statements, with the connector options left to the place it runs. */
export interface JobSpec {
  readonly dataset: string;
  readonly eventTimeColumn: string;
  readonly allowedLatenessSeconds: number;
  readonly source: string;
  readonly acceptedView: string;
  readonly queries: readonly {
    readonly name: string;
    readonly table: string;
    readonly window: StreamSqlJob["queries"][number]["query"]["window"];
    readonly groupBy: readonly string[];
    readonly measures: readonly { readonly name: string; readonly fn: string; readonly column?: string }[];
    readonly partitionKeys: readonly string[];
    readonly select: string;
    readonly sink: string;
    readonly insert: string;
  }[];
}

export function jobSpec(dataset: PartitionedDataset): JobSpec | undefined {
  const job = streamSqlJob(dataset);
  if (!job) return undefined;
  return {
    dataset: job.dataset,
    eventTimeColumn: dataset.contract.eventTimeColumn,
    allowedLatenessSeconds: job.lateness.allowedLatenessSeconds,
    source: job.sourceDdl(RUNTIME_OPTIONS),
    acceptedView: job.acceptedView,
    queries: job.queries.map((q) => ({
      name: q.query.name,
      table: q.table,
      window: q.query.window,
      groupBy: q.query.groupBy,
      measures: q.query.measures.map((m) => ({ name: m.name, fn: m.fn, ...(m.column ? { column: m.column } : {}) })),
      partitionKeys: q.partitionKeys.map((k) => k.name),
      select: q.select,
      sink: q.sinkDdl(RUNTIME_OPTIONS),
      insert: q.insert,
    })),
  };
}

export interface StreamPackage {
  readonly dataset: string;
  /** sha256 over the package's files, the jar counted by its pinned sha256: the S3 key's hash. */
  readonly contentHash: string;
  readonly jobJson: string;
  readonly jarName: string;
  readonly pin: ConnectorPin;
  /** Package path relative to the stack directory: "stream-sql-packages/<hash>/<dataset>.zip". */
  readonly relativePath: string;
}

export function streamPackage(dataset: PartitionedDataset): StreamPackage | undefined {
  const spec = jobSpec(dataset);
  if (!spec) return undefined;
  const pin = connectorPin();
  const jobJson = `${JSON.stringify(spec, null, 2)}\n`;
  const jarName = connectorJarName(pin);
  const hash = createHash("sha256");
  const part = (name: string, data: Buffer | string) =>
    hash.update(`${name}\0${Buffer.byteLength(data)}\0`).update(data);
  part("main.py", readFileSync(join(ROOT, APP_ENTRY)));
  part("job.json", jobJson);
  part(`lib/${jarName}`, `${pin.groupId}:${pin.artifactId}:${pin.version} sha256=${pin.sha256 ?? "unpinned"}`);
  const contentHash = hash.digest("hex");
  return {
    dataset: dataset.name,
    contentHash,
    jobJson,
    jarName,
    pin,
    relativePath: `${PACKAGE_DIR}/${contentHash}/${dataset.name}.zip`,
  };
}
