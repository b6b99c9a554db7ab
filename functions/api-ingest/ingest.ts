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
 * - An incremental source (`since`) starts from the high-water mark: the first page is asked for
 *   records from the mark minus the overlap, records of the overlap already written by an earlier
 *   run are recognised by fingerprint and not written again, and the mark advances only when the
 *   whole run has been read and written (a failed or retried run reads the same records again).
 * Counts reconcile: received = written + quarantined + duplicates (exact repeats within the run,
 * or of a record an earlier run wrote).
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { IngestConfig } from "./config";
import { fetchPage, PageFetchError, type FailureKind as HttpFailureKind } from "./http";
import { checkRecord, type Reason } from "./records";

export interface ObjectStore {
  /** Writes unless the key exists; resolves false when it already did. */
  putIfAbsent(
    bucket: string,
    key: string,
    body: Buffer,
    kmsKeyArn: string,
    metadata: Record<string, string>,
  ): Promise<boolean>;
}

/**
 * The high-water mark of an incremental source, as stored between runs.
 * `edge` lists the fingerprints of the records at or after `mark` − overlap: the next run asks
 * for those again (the overlap) and skips them instead of writing them a second time.
 */
export interface Mark {
  /** Highest version-column value of the records written, ISO-8601 UTC. */
  readonly mark: string;
  readonly edge: readonly string[];
  /** When the run that wrote it finished (for operators). */
  readonly updatedAt: string;
}

export interface MarkStore {
  /** The stored mark and a token naming that version of it; undefined before the first run. */
  read(): Promise<{ mark: Mark; token: string } | undefined>;
  /** Replaces the mark, only if it is still the version `token` names (absent: only if none exists). */
  write(mark: Mark, token: string | undefined): Promise<void>;
}

/** The mark could not be read or written: the invocation fails, and its retry re-reads (nothing is skipped). */
export class MarkError extends Error {
  constructor(
    message: string,
    readonly cause?: unknown,
  ) {
    super(message);
    this.name = "MarkError";
  }
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
  /** Where the high-water mark lives; required when the source is read incrementally. */
  readonly marks?: MarkStore;
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
  readonly incremental: IncrementalSummary;
}

/** How the run chose what to read, and what it did with the mark. */
export interface IncrementalSummary {
  readonly mode: "since" | "full";
  /** The query parameter and the value the first page was asked with (absent: no filter, a full read). */
  readonly parameter?: string;
  readonly since?: string;
  readonly markBefore?: string;
  readonly markAfter?: string;
  readonly advanced: boolean;
  /** Why the mark stayed (a full read, a redrive, a run that did not complete). */
  readonly stayedBecause?: string;
  /** Records of the overlap an earlier run had already written (counted among duplicates). */
  readonly alreadyWritten: number;
}

/** Why a run was dead-lettered: an HTTP failure after retries, or one of the run's own. */
export type FailureKind = HttpFailureKind | "credentials" | "time_budget" | "write_failed";

/** What a dead-letter message holds (the body is this JSON). */
export interface DeadLetter {
  readonly source: "api-ingest";
  readonly dataset: string;
  readonly failedAt: string;
  readonly failure: {
    readonly kind: FailureKind;
    readonly message: string;
    readonly status?: number;
    readonly attempts?: number;
  };
  /** The page that failed; invoke the function with `redrive` as its event to resume there. */
  readonly url: string;
  readonly redrive: IngestEvent;
  readonly progress: RunSummary["pages"] & { readonly recordsWritten: number };
}

/** Raised when even the dead-letter queue cannot take the failure: the invocation fails (Lambda retries it). */
export class DeadLetterError extends Error {
  constructor(
    message: string,
    readonly cause: unknown,
  ) {
    super(message);
    this.name = "DeadLetterError";
  }
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A record's identity across runs: its partition and exact content (96 bits of sha256, base64url). */
export function recordFingerprint(partition: string, line: string): string {
  return createHash("sha256").update(partition).update("\n").update(line).digest("base64url").slice(0, 16);
}

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
    incremental: { mode: config.incremental.kind, advanced: false, alreadyWritten: 0 } as Mutable<IncrementalSummary>,
  };
  const seenRecords = new Set<string>();
  const seenPages = new Set<string>();

  const put = async (zone: "raw" | "quarantine", key: string, content: string, metadata: Record<string, string>) => {
    const bucket = zone === "raw" ? config.rawBucket : config.quarantineBucket;
    const kmsKeyArn = zone === "raw" ? config.rawKmsKeyArn : config.quarantineKmsKeyArn;
    const written = await deps.store.putIfAbsent(
      bucket,
      key,
      gzipSync(Buffer.from(content, "utf8")),
      kmsKeyArn,
      metadata,
    );
    (written ? summary.objects[zone] : summary.objects.skipped).push(key);
  };
  const quarantinePage = async (url: string, reason: Reason, detail: string, body: Buffer) => {
    const line = JSON.stringify({ reason, detail, page_url: url, bytes: body.length, body: body.toString("utf8") });
    await put(
      "quarantine",
      `${config.dataset}/api_ingest/${reason}/${sha256(line).slice(0, 40)}.json.gz`,
      `${line}\n`,
      { reason, "page-url": url },
    );
    summary.pages.quarantined++;
    summary.quarantineReasons[reason] = (summary.quarantineReasons[reason] ?? 0) + 1;
    deps.metrics.count("PagesQuarantined", 1);
    deps.log.warn("page quarantined", { url, reason, detail });
  };

  // An incremental run reads the mark first: without it, it cannot know where to start.
  const since = config.incremental.kind === "since" ? config.incremental : undefined;
  let stored: { mark: Mark; token: string } | undefined;
  if (since) {
    if (!deps.marks) throw new Error("an incremental source needs a mark store (STATE_BUCKET)");
    try {
      stored = await deps.marks.read();
    } catch (error) {
      throw new MarkError(`could not read the high-water mark: ${(error as Error).message ?? String(error)}`, error);
    }
  }
  const first = new URL(start, config.apiUrl);
  if (since && stored && event.startUrl === undefined) {
    const value = sinceValue(stored.mark.mark, since.overlapSeconds);
    first.searchParams.set(since.parameter, value);
    Object.assign(summary.incremental, { parameter: since.parameter, since: value });
  }
  if (since) {
    // Until the run completes and stores a new one, the mark is the old one (a dead-lettered run ends here).
    Object.assign(summary.incremental, {
      markBefore: stored?.mark.mark,
      markAfter: stored?.mark.mark,
      stayedBecause: "the run did not complete: the next run reads from the same mark again",
    });
  }
  const known = new Set(stored?.mark.edge ?? []);
  const versions = new Map<string, number>(); // fingerprint → version (ms) of every record accepted this run

  let url: string | undefined = first.toString();
  let headers: Record<string, string>;
  try {
    headers = await deps.credentials();
  } catch (error) {
    return await deadLetter(config, deps, summary, url, {
      kind: "credentials",
      message: (error as Error).message ?? String(error),
    });
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
        return await deadLetter(config, deps, summary, url, {
          kind: "time_budget",
          message: `only ${remaining} ms left of the invocation; resume from this page`,
        });
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
          await quarantinePage(
            url,
            "pagination_loop",
            `next link ${resolved.toString()} was already fetched`,
            page.body,
          );
        } else next = resolved.toString();
        if (next === undefined) {
          summary.status = "incomplete";
          summary.stoppedBecause = `page ${summary.pages.fetched} (${url}) quarantined: its next link cannot be followed`;
          break;
        }
      }
      await writeRecords(config, put, summary, seenRecords, url, parsed.items, deps, { known, versions });
      url = next;
    }
  } catch (error) {
    if (error instanceof PageFetchError) {
      return await deadLetter(config, deps, summary, error.url, { ...error.failure, attempts: error.attempts });
    }
    if (error instanceof DeadLetterError) throw error;
    // A write that failed after the SDK's own retries: nothing partial exists (PutObject is atomic).
    return await deadLetter(config, deps, summary, url ?? start, {
      kind: "write_failed",
      message: (error as Error).message ?? String(error),
    });
  }
  if (since) await advanceMark(since.overlapSeconds, deps, summary, stored, versions, event.startUrl !== undefined);
  else
    summary.incremental.stayedBecause = `the API is read in full by design: ${config.incremental.kind === "full" ? config.incremental.reason : ""}`;
  return finish(summary, deps);
}

/** The parameter's value: the mark minus the overlap, ISO-8601 UTC with milliseconds. */
export function sinceValue(mark: string, overlapSeconds: number): string {
  const ms = Date.parse(mark);
  if (Number.isNaN(ms)) throw new MarkError(`the stored high-water mark ${JSON.stringify(mark)} is not a timestamp`);
  return new Date(ms - overlapSeconds * 1000).toISOString();
}

/**
 * The next mark: the highest version seen (written now, or written before and met again in the
 * overlap), never lower than the last one, and the fingerprints the next run's overlap will meet.
 */
export function nextMark(
  previous: Mark | undefined,
  versions: ReadonlyMap<string, number>,
  overlapSeconds: number,
  now: Date,
): Mark | undefined {
  let highest = previous ? Date.parse(previous.mark) : -Infinity;
  for (const v of versions.values()) if (v > highest) highest = v;
  if (!Number.isFinite(highest)) return undefined; // nothing read yet: there is no mark to keep
  const from = highest - overlapSeconds * 1000;
  const edge = [...versions]
    .filter(([, v]) => v >= from)
    .map(([f]) => f)
    .sort();
  return { mark: new Date(highest).toISOString(), edge, updatedAt: now.toISOString() };
}

/** Stores the next mark, but only after a complete scheduled run: anything less re-reads next time. */
async function advanceMark(
  overlapSeconds: number,
  deps: IngestDeps,
  summary: Omit<RunSummary, "incremental"> & { incremental: Mutable<IncrementalSummary> },
  stored: { mark: Mark; token: string } | undefined,
  versions: ReadonlyMap<string, number>,
  redrive: boolean,
): Promise<void> {
  const stay = (why: string) => {
    summary.incremental.stayedBecause = why;
    summary.incremental.markAfter = stored?.mark.mark;
  };
  if (summary.status !== "complete")
    return stay(`the run is ${summary.status}: the next run reads from the same mark again`);
  // A redrive read only the pages from where a failed run stopped; the pages before it were read by
  // that run, whose mark was never stored. The next scheduled run re-reads from the old mark.
  if (redrive) return stay("a redrive does not move the mark: the next scheduled run reads from the same mark");
  const next = nextMark(stored?.mark, versions, overlapSeconds, deps.now?.() ?? new Date());
  if (!next) return stay("no record has been read yet");
  const marks = deps.marks;
  if (!marks) throw new Error("an incremental source needs a mark store (STATE_BUCKET)");
  try {
    await marks.write(next, stored?.token);
  } catch (error) {
    throw new MarkError(
      `the run's records are written, but the high-water mark could not be stored (the next run re-reads them): ${(error as Error).message ?? String(error)}`,
      error,
    );
  }
  Object.assign(summary.incremental, { markAfter: next.mark, advanced: true });
  delete summary.incremental.stayedBecause;
  deps.metrics.count("MarkAdvanced", 1);
}

/**
 * Writes one page's records. The run's counters change only after every object of the page is
 * stored: a write that fails part-way leaves the page uncounted, and its redrive (which starts at
 * this page) skips the objects already present.
 */
async function writeRecords(
  config: IngestConfig,
  put: (zone: "raw" | "quarantine", key: string, content: string, metadata: Record<string, string>) => Promise<void>,
  summary: {
    records: RunSummary["records"];
    pages: RunSummary["pages"];
    quarantineReasons: RunSummary["quarantineReasons"];
    incremental: { alreadyWritten: number };
  },
  seen: Set<string>,
  url: string,
  items: unknown[],
  deps: IngestDeps,
  marks: { readonly known: ReadonlySet<string>; readonly versions: Map<string, number> },
): Promise<void> {
  const partitions = new Map<string, string[]>();
  const rejected: string[] = [];
  const reasons: Partial<Record<Reason, number>> = {};
  const fingerprints = new Set<string>();
  const accepted = new Map<string, number>();
  let duplicates = 0;
  let alreadyWritten = 0;
  items.forEach((item, index) => {
    const outcome = checkRecord(item, config.contract, config.maxRecordBytes);
    if (!outcome.ok) {
      rejected.push(
        JSON.stringify({
          reason: outcome.reason,
          detail: outcome.detail,
          page_url: url,
          index,
          record: safeRecord(item, config.maxRecordBytes),
        }),
      );
      reasons[outcome.reason] = (reasons[outcome.reason] ?? 0) + 1;
      return;
    }
    const fingerprint = recordFingerprint(outcome.partition, outcome.line);
    if (seen.has(fingerprint) || fingerprints.has(fingerprint)) {
      duplicates++;
      return;
    }
    fingerprints.add(fingerprint);
    if (!Number.isNaN(outcome.versionMs)) accepted.set(fingerprint, outcome.versionMs);
    // In the overlap: an earlier run wrote exactly this record. Not written again.
    if (marks.known.has(fingerprint)) {
      duplicates++;
      alreadyWritten++;
      return;
    }
    partitions.set(outcome.partition, [...(partitions.get(outcome.partition) ?? []), outcome.line]);
  });
  // Sorted, so the same page content always produces the same objects in the same order.
  let written = 0;
  for (const [partition, lines] of [...partitions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const content = `${lines.join("\n")}\n`;
    await put("raw", `${config.dataset}/${partition}api-${sha256(content).slice(0, 40)}.json.gz`, content, {
      records: String(lines.length),
      "page-url": url,
    });
    written += lines.length;
  }
  if (rejected.length) {
    const content = `${rejected.join("\n")}\n`;
    await put("quarantine", `${config.dataset}/api_ingest/records/${sha256(content).slice(0, 40)}.json.gz`, content, {
      records: String(rejected.length),
      "page-url": url,
    });
  }
  fingerprints.forEach((f) => seen.add(f));
  accepted.forEach((v, f) => marks.versions.set(f, v));
  summary.incremental.alreadyWritten += alreadyWritten;
  summary.records.received += items.length;
  summary.records.written += written;
  summary.records.quarantined += rejected.length;
  summary.records.duplicates += duplicates;
  if (items.length === 0) summary.pages.empty++;
  for (const [reason, n] of Object.entries(reasons) as [Reason, number][])
    summary.quarantineReasons[reason] = (summary.quarantineReasons[reason] ?? 0) + n;
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
  if (oversized)
    return {
      reason: "page_too_large",
      detail: `more than ${config.maxPageBytes} bytes; the first ${config.maxPageBytes} are kept`,
    };
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
    return {
      reason: "unexpected_shape",
      detail: `the body is ${Array.isArray(json) ? "an array" : json === null ? "null" : typeof json}, not an object with "${config.itemsField}"`,
    };
  }
  const page = json as Record<string, unknown>;
  const items = page[config.itemsField];
  if (!Array.isArray(items))
    return {
      reason: "unexpected_shape",
      detail: `"${config.itemsField}" is ${items === undefined ? "missing" : `not an array (${typeof items})`}`,
    };
  const next = page[config.nextField];
  if (next !== undefined && next !== null && (typeof next !== "string" || next.trim() === "")) {
    return {
      reason: "unexpected_shape",
      detail: `"${config.nextField}" must be a URL or null (got ${JSON.stringify(next)})`,
    };
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
    failure: {
      kind: failure.kind,
      message: failure.message,
      ...(failure.status ? { status: failure.status } : {}),
      ...(failure.attempts ? { attempts: failure.attempts } : {}),
    },
    url,
    redrive: { startUrl: url },
    progress: { ...summary.pages, recordsWritten: summary.records.written },
  };
  try {
    await deps.deadLetters.send(JSON.stringify(message));
  } catch (error) {
    deps.log.error("the dead-letter queue refused the failure", {
      failure: message.failure,
      error: (error as Error).message,
    });
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
    throw new Error(
      `record counts do not reconcile: received ${received} ≠ written ${written} + quarantined ${quarantined} + duplicates ${duplicates}`,
    );
  }
  deps.metrics.count("DuplicateRecords", duplicates);
  deps.log.info("run finished", {
    ...summary,
    objects: {
      raw: summary.objects.raw.length,
      quarantine: summary.objects.quarantine.length,
      skipped: summary.objects.skipped.length,
    },
  });
  return summary;
}
