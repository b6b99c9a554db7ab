/**
 * Fetching one page: a timeout per request, a size cap while reading, and retries with exponential
 * backoff and full jitter for what is worth retrying (HTTP 429, 5xx, timeouts, network errors).
 * A `Retry-After` header is honoured up to the backoff ceiling. Anything else non-2xx fails at once.
 */

export interface FetchOptions {
  readonly headers: Readonly<Record<string, string>>;
  readonly maxAttempts: number;
  readonly backoffBaseMs: number;
  readonly requestTimeoutMs: number;
  readonly maxBytes: number;
  /** Injected in tests; `fetch` and a real timer otherwise. */
  readonly fetchFn?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Called before each retry (metrics, logs). */
  readonly onRetry?: (attempt: number, failure: FetchFailure, delayMs: number) => void;
}

/** The page as read: the body bytes (at most `maxBytes` + 1, so an oversized page is recognisable). */
export interface FetchedPage {
  readonly url: string;
  readonly status: number;
  readonly body: Buffer;
  /** True when the body was longer than `maxBytes` and reading stopped. */
  readonly oversized: boolean;
  readonly attempts: number;
}

export type FailureKind = "http_status" | "timeout" | "network";

export interface FetchFailure {
  readonly kind: FailureKind;
  readonly status?: number;
  readonly message: string;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
}

/** A page that could not be fetched: after the last retry, or at once for a non-retryable answer. */
export class PageFetchError extends Error {
  constructor(
    readonly url: string,
    readonly failure: FetchFailure,
    readonly attempts: number,
  ) {
    super(`GET ${url} failed after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${failure.message}`);
    this.name = "PageFetchError";
  }
}

/** Longest wait between attempts, whatever Retry-After asks for. */
export const MAX_BACKOFF_MS = 20_000;

export async function fetchPage(url: string, options: FetchOptions): Promise<FetchedPage> {
  const fetchFn = options.fetchFn ?? fetch;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    const result = await attemptOnce(fetchFn, url, options);
    if ("body" in result) return { ...result, attempts: attempt };
    if (!result.retryable || attempt >= options.maxAttempts) throw new PageFetchError(url, result, attempt);
    const backoff = Math.min(MAX_BACKOFF_MS, options.backoffBaseMs * 2 ** (attempt - 1));
    const delay =
      result.retryAfterMs !== undefined
        ? Math.min(MAX_BACKOFF_MS, result.retryAfterMs)
        : Math.floor(random() * backoff);
    options.onRetry?.(attempt, result, delay);
    await sleep(delay);
  }
}

async function attemptOnce(
  fetchFn: typeof fetch,
  url: string,
  options: FetchOptions,
): Promise<Omit<FetchedPage, "attempts"> | FetchFailure> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new TimeoutError(options.requestTimeoutMs)),
    options.requestTimeoutMs,
  );
  try {
    const response = await fetchFn(url, {
      method: "GET",
      headers: { accept: "application/json", ...options.headers },
      signal: controller.signal,
      redirect: "follow",
    });
    if (response.status === 429 || response.status >= 500) {
      await response.body?.cancel().catch(() => undefined);
      return {
        kind: "http_status",
        status: response.status,
        message: `HTTP ${response.status}`,
        retryable: true,
        retryAfterMs: retryAfter(response.headers.get("retry-after")),
      };
    }
    if (response.status < 200 || response.status > 299) {
      const text = await readCapped(response, 512)
        .then((r) => r.body.toString("utf8"))
        .catch(() => "");
      return {
        kind: "http_status",
        status: response.status,
        message: `HTTP ${response.status}${text ? `: ${text.trim().slice(0, 200)}` : ""}`,
        retryable: false,
      };
    }
    const { body, oversized } = await readCapped(response, options.maxBytes);
    return { url, status: response.status, body, oversized };
  } catch (error) {
    if (controller.signal.aborted)
      return { kind: "timeout", message: `no complete answer within ${options.requestTimeoutMs} ms`, retryable: true };
    return { kind: "network", message: describeNetworkError(error), retryable: true };
  } finally {
    clearTimeout(timer);
  }
}

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = "TimeoutError";
  }
}

/** Reads at most `maxBytes` + 1 bytes of the body, then stops reading. */
async function readCapped(response: Response, maxBytes: number): Promise<{ body: Buffer; oversized: boolean }> {
  if (!response.body) return { body: Buffer.alloc(0), oversized: false };
  const reader = response.body.getReader();
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(Buffer.from(value));
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return { body: Buffer.concat(chunks).subarray(0, maxBytes + 1), oversized: true };
    }
  }
  return { body: Buffer.concat(chunks), oversized: false };
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function describeNetworkError(error: unknown): string {
  const e = error as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `${e?.message ?? String(error)}${cause ? ` (${cause})` : ""}`;
}
