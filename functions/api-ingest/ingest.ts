/**
 * One ingestion run: page through the API from the first page (or the page a redrive names), and
 * for every page either write its records to the raw zone or quarantine it with the reason.
 *
 * - Records are grouped by partition; each group becomes one gzip NDJSON object whose key is the
 *   sha256 of its content, written only if absent (If-None-Match), so a retried run never
 *   duplicates an object.
 * - Rejected records of a page are written, with their reason, to the quarantine zone (also keyed
 *   by content). A page that cannot be read at all is quarantined whole, and the run stops there:
 *   without the page there is no next link.
 * - A page that still fails after the retries, a failed write, or running out of time sends a
 *   message naming the failure and the page to resume from to the dead-letter queue.
 * Counts reconcile: received = written + quarantined + duplicates (exact repeats within the run).
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { IngestConfig } from "./config";
import { fetchPage, PageFetchError, type FailureKind as HttpFailureKind } from "./http";
import { checkRecord, type Reason } from "./records";

export interface ObjectStore {
  /** Writes unless the key exists; resolves false when it already did. */
  putIfAbsent(bucket: string, key: string, body: Buffer, kmsKeyArn: string, metadata: Record<string, string>): Promise<boolean>;
}

export interface DeadLetters {
  send(body: string): Promise<void>;
}

export interface RunLog {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export interface RunMetrics {
  count(name: string, value: number): void;
}

export interface IngestDeps {
  readonly store: ObjectStore;
  readonly deadLetters: DeadLetters;
  /** Request headers carrying the API credentials (from Secrets Manager). */
  readonly credentials: () => Promise<Record<string, string>>;
  readonly log: RunLog;
  readonly metrics: RunMetrics;
  /** Milliseconds the invocation has left (Lambda's context); unlimited when absent. */
  readonly remainingMs?: () => number;
  readonly fetchFn?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** When the run happens (dead-letter messages only; object keys never depend on it). */
  readonly now?: () => Date;
}

/** What the handler accepts: nothing (a scheduled run) or the page to resume from (a redrive). */
export interface IngestEvent {
  readonly startUrl?: string;
}

export type RunStatus = "complete" | "incomplete" | "dead-lettered";

export interface RunSummary {
  readonly dataset: string;
  readonly status: RunStatus;
  /** Why the run stopped before the last page (incomplete or dead-lettered). */
  readonly stoppedBecause?: string;
  readonly pages: { fetched: number; empty: number; quarantined: number };
  readonly records: { received: number; written: number; quarantined: number; duplicates: number };
  /** Keys written this run (objects already present are listed under `skipped`). */
  readonly objects: { raw: string[]; quarantine: string[]; skipped: string[] };
  readonly quarantineReasons: Partial<Record<Reason, number>>;
}

/** Why a run was dead-lettered: an HTTP failure after retries, or one of the run's own. */
export type FailureKind = HttpFailureKind | "credentials" | "time_budget" | "write_failed";

/** What a dead-letter message holds (the body is this JSON). */
export interface DeadLetter {
  readonly source: "api-ingest";
  readonly dataset: string;
  readonly failedAt: string;
  readonly failure: { readonly kind: FailureKind; readonly message: string; readonly status?: number; readonly attempts?: number };
  /** The page that failed; invoke the function with `redrive` as its event to resume there. */
  readonly url: string;
  readonly redrive: IngestEvent;
  readonly progress: RunSummary["pages"] & { readonly recordsWritten: number };
}

/** Raised when even the dead-letter queue cannot take the failure: the invocation fails (Lambda retries it). */
export class DeadLetterError extends Error {
  constructor(message: string, readonly cause: unknown) {
    super(message);
    this.name = "DeadLetterError";
  }
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

export async function ingest(config: IngestConfig, deps: IngestDeps, event: IngestEvent = {}): Promise<RunSummary> {
  const origin = new URL(config.apiUrl).origin;
  const start = event.startUrl ?? config.apiUrl;
  if (new URL(start, config.apiUrl).origin !== origin) {
    throw new Error(`startUrl ${start} is not on the API's origin ${origin}: refusing to send credentials there`);
  }
  const summary = {
    dataset: config.dataset,
    status: "complete" as RunStatus,
    stoppedBecause: undefined as string | undefined,
    pages: { fetched: 0, empty: 0, quarantined: 0 },
    records: { received: 0, written: 0, quarantined: 0, duplicates: 0 },
    objects: { raw: [] as string[], quarantine: [] as string[], skipped: [] as string[] },
    quarantineReasons: {} as Partial<Record<Reason, number>>,
  };
  const seenRecords = new Set<string>();
  const seenPages = new Set<string>();

  const put = async (zone: "raw" | "quarantine", key: string, content: string, metadata: Record<string, string>) => {
    const bucket = zone === "raw" ? config.rawBucket : config.quarantineBucket;
    const kmsKeyArn = zone === "raw" ? config.rawKmsKeyArn : config.quarantineKmsKeyArn;
    const written = await deps.store.putIfAbsent(bucket, key, gzipSync(Buffer.from(content, "utf8")), kmsKeyArn, metadata);
    (written ? summary.objects[zone] : summary.objects.skipped).push(key);
  };
  const quarantinePage = async (url: string, reason: Reason, detail: string, body: Buffer) => {
    const line = JSON.stringify({ reason, detail, page_url: url, bytes: body.length, body: body.toString("utf8") });
    await put("quarantine", `${config.dataset}/api_ingest/${reason}/${sha256(line).slice(0, 40)}.json.gz`, `${line}\n`, { reason, "page-url": url });
    summary.pages.quarantined++;
    summary.quarantineReasons[reason] = (summary.quarantineReasons[reason] ?? 0) + 1;
    deps.metrics.count("PagesQuarantined", 1);
    deps.log.warn("page quarantined", { url, reason, detail });
  };

  let url: string | undefined = new URL(start, config.apiUrl).toString();
  let headers: Record<string, string>;
  try {
    headers = await deps.credentials();
  } catch (error) {
    return await deadLetter(config, deps, summary, url, { kind: "credentials", message: (error as Error).message ?? String(error) });
  }
  try {
    while (url !== undefined) {
      if (summary.pages.fetched >= config.maxPages) {
        summary.status = "incomplete";
        summary.stoppedBecause = `reached MAX_PAGES (${config.maxPages}) before the last page; the next run starts from the first page again`;
        deps.log.warn("page limit reached", { maxPages: config.maxPages, next: url });
        break;
      }
      const remaining = deps.remainingMs?.() ?? Infinity;
      if (remaining < config.requestTimeoutMs + 5_000) {
        return await deadLetter(config, deps, summary, url, { kind: "time_budget", message: `only ${remaining} ms left of the invocation; resume from this page` });
      }
      seenPages.add(url);
      const page = await fetchPage(url, {
        headers,
        maxAttempts: config.maxAttempts,
        backoffBaseMs: config.backoffBaseMs,
        requestTimeoutMs: config.requestTimeoutMs,
        maxBytes: config.maxPageBytes,
        fetchFn: deps.fetchFn,
        sleep: deps.sleep,
        random: deps.random,
        onRetry: (attempt, failure, delayMs) => {
          deps.metrics.count("HttpRetries", 1);
          deps.log.warn("retrying page", { url, attempt, failure: failure.message, delayMs });
        },
      });
      summary.pages.fetched++;
      deps.metrics.count("PagesFetched", 1);

      const parsed = parsePage(page.body, page.oversized, config);
      if ("reason" in parsed) {
        await quarantinePage(url, parsed.reason, parsed.detail, page.body.subarray(0, config.maxPageBytes));
        summary.status = "incomplete";
        summary.stoppedBecause = `page ${summary.pages.fetched} (${url}) quarantined: ${parsed.reason}`;
        break;
      }
      let next: string | undefined;
      if (parsed.next !== undefined) {
        const resolved = new URL(parsed.next, url);
        if (resolved.origin !== origin) {
          await quarantinePage(url, "next_link_off_origin", `next link ${resolved.origin} is not ${origin}`, page.body);
        } else if (seenPages.has(resolved.toString())) {
          await quarantinePage(url, "pagination_loop", `next link ${resolved.toString()} was already fetched`, page.body);
        } else next = resolved.toString();
        if (next === undefined) {
          summary.status = "incomplete";
          summary.stoppedBecause = `page ${summary.pages.fetched} (${url}) quarantined: its next link cannot be followed`;
          break;
        }
      }
      await writeRecords(config, put, summary, seenRecords, url, parsed.items, deps);
      url = next;
    }
  } catch (error) {
    if (error instanceof PageFetchError) {
      return await deadLetter(config, deps, summary, error.url, { ...error.failure, attempts: error.attempts });
    }
    if (error instanceof DeadLetterError) throw error;
    // A write that failed after the SDK's own retries: nothing partial exists (PutObject is atomic).
    return await deadLetter(config, deps, summary, url ?? start, { kind: "write_failed", message: (error as Error).message ?? String(error) });
  }
  return finish(summary, deps);
}

/**
 * Writes one page's records. The run's counters change only after every object of the page is
 * stored: a write that fails part-way leaves the page uncounted, and its redrive (which starts at
 * this page) skips the objects already present.
 */
async function writeRecords(
  config: IngestConfig,
  put: (zone: "raw" | "quarantine", key: string, content: string, metadata: Record<string, string>) => Promise<void>,
  summary: { records: RunSummary["records"]; pages: RunSummary["pages"]; quarantineReasons: RunSummary["quarantineReasons"] },
  seen: Set<string>,
  url: string,
  items: unknown[],
  deps: IngestDeps,
): Promise<void> {
  const partitions = new Map<string, string[]>();
  const rejected: string[] = [];
  const reasons: Partial<Record<Reason, number>> = {};
  const fingerprints = new Set<string>();
  let duplicates = 0;
  items.forEach((item, index) => {
    const outcome = checkRecord(item, config.contract, config.maxRecordBytes);
    if (!outcome.ok) {
      rejected.push(JSON.stringify({ reason: outcome.reason, detail: outcome.detail, page_url: url, index, record: safeRecord(item, config.maxRecordBytes) }));
      reasons[outcome.reason] = (reasons[outcome.reason] ?? 0) + 1;
      return;
    }
    const fingerprint = sha256(outcome.partition + outcome.line);
    if (seen.has(fingerprint) || fingerprints.has(fingerprint)) {
      duplicates++;
      return;
    }
    fingerprints.add(fingerprint);
    partitions.set(outcome.partition, [...(partitions.get(outcome.partition) ?? []), outcome.line]);
  });
  // Sorted, so the same page content always produces the same objects in the same order.
  let written = 0;
  for (const partition of [...partitions.keys()].sort()) {
    const lines = partitions.get(partition)!;
    const content = `${lines.join("\n")}\n`;
    await put("raw", `${config.dataset}/${partition}api-${sha256(content).slice(0, 40)}.json.gz`, content, { records: String(lines.length), "page-url": url });
    written += lines.length;
  }
  if (rejected.length) {
    const content = `${rejected.join("\n")}\n`;
    await put("quarantine", `${config.dataset}/api_ingest/records/${sha256(content).slice(0, 40)}.json.gz`, content, { records: String(rejected.length), "page-url": url });
  }
  fingerprints.forEach((f) => seen.add(f));
  summary.records.received += items.length;
  summary.records.written += written;
  summary.records.quarantined += rejected.length;
  summary.records.duplicates += duplicates;
  if (items.length === 0) summary.pages.empty++;
  for (const [reason, n] of Object.entries(reasons) as [Reason, number][]) summary.quarantineReasons[reason] = (summary.quarantineReasons[reason] ?? 0) + n;
  deps.metrics.count("RecordsReceived", items.length);
  deps.metrics.count("RecordsWritten", written);
  deps.metrics.count("RecordsQuarantined", rejected.length);
}

/** A rejected record as it can be stored: oversized ones are cut, with their size noted. */
function safeRecord(item: unknown, maxBytes: number): unknown {
  const text = JSON.stringify(item) ?? "null";
  if (Buffer.byteLength(text, "utf8") <= maxBytes) return item;
  return { truncated: true, bytes: Buffer.byteLength(text, "utf8"), head: text.slice(0, 1024) };
}

type ParsedPage = { items: unknown[]; next?: string } | { reason: Reason; detail: string };

function parsePage(body: Buffer, oversized: boolean, config: IngestConfig): ParsedPage {
  if (oversized) return { reason: "page_too_large", detail: `more than ${config.maxPageBytes} bytes; the first ${config.maxPageBytes} are kept` };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    return { reason: "http_body_not_utf8", detail: "the body holds bytes that are not UTF-8" };
  }
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, "")); // a byte-order mark is an encoding signature, not content
  } catch (error) {
    return { reason: "invalid_json", detail: (error as Error).message };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { reason: "unexpected_shape", detail: `the body is ${Array.isArray(json) ? "an array" : json === null ? "null" : typeof json}, not an object with "${config.itemsField}"` };
  }
  const page = json as Record<string, unknown>;
  const items = page[config.itemsField];
  if (!Array.isArray(items)) return { reason: "unexpected_shape", detail: `"${config.itemsField}" is ${items === undefined ? "missing" : `not an array (${typeof items})`}` };
  const next = page[config.nextField];
  if (next !== undefined && next !== null && (typeof next !== "string" || next.trim() === "")) {
    return { reason: "unexpected_shape", detail: `"${config.nextField}" must be a URL or null (got ${JSON.stringify(next)})` };
  }
  return { items, next: typeof next === "string" ? next : undefined };
}

async function deadLetter(
  config: IngestConfig,
  deps: IngestDeps,
  summary: RunSummary & { status: RunStatus; stoppedBecause?: string },
  url: string,
  failure: { kind: FailureKind; message: string; status?: number; attempts?: number },
): Promise<RunSummary> {
  const message: DeadLetter = {
    source: "api-ingest",
    dataset: config.dataset,
    failedAt: (deps.now?.() ?? new Date()).toISOString(),
    failure: { kind: failure.kind, message: failure.message, ...(failure.status ? { status: failure.status } : {}), ...(failure.attempts ? { attempts: failure.attempts } : {}) },
    url,
    redrive: { startUrl: url },
    progress: { ...summary.pages, recordsWritten: summary.records.written },
  };
  try {
    await deps.deadLetters.send(JSON.stringify(message));
  } catch (error) {
    deps.log.error("the dead-letter queue refused the failure", { failure: message.failure, error: (error as Error).message });
    throw new DeadLetterError(`could not dead-letter ${failure.kind} at ${url}: ${(error as Error).message}`, error);
  }
  summary.status = "dead-lettered";
  summary.stoppedBecause = `${failure.kind} at ${url}: ${failure.message}`;
  deps.metrics.count("DeadLettered", 1);
  deps.log.error("run dead-lettered", { url, failure: message.failure });
  return finish(summary, deps);
}

function finish(summary: RunSummary, deps: IngestDeps): RunSummary {
  const { received, written, quarantined, duplicates } = summary.records;
  if (received !== written + quarantined + duplicates) {
    // Cannot happen unless the code above is wrong; refuse to report a run that lost records.
    throw new Error(`record counts do not reconcile: received ${received} ≠ written ${written} + quarantined ${quarantined} + duplicates ${duplicates}`);
  }
  deps.metrics.count("DuplicateRecords", duplicates);
  deps.log.info("run finished", { ...summary, objects: { raw: summary.objects.raw.length, quarantine: summary.objects.quarantine.length, skipped: summary.objects.skipped.length } });
  return summary;
}
