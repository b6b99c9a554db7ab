/**
 * A scripted HTTP API on a loopback port, standing in for the carrier's API: each path answers
 * with the next response of its script (the last one repeats), so retries, malformed pages and
 * pagination can be played exactly. Used by the handler tests and by the main job (scripts/main-job.ts), which serves every API-sourced dataset's sample records with it.
 *
 *   const api = await SampleApi.start({ "/v1/things": [{ status: 503 }, { json: { items: [...], next: "/v1/things?page=2" } }] });
 *   api.url("/v1/things"); api.requests; await api.stop();
 *
 * A path can also be served by a function of the request's URL (`SampleApi.start({}, { "/v1/x": (url) => … })`):
 * `RecordsApi` uses it to serve a changing set of records that honours a "since" query parameter.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ScriptedResponse {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** A JSON body (serialized with JSON.stringify). */
  readonly json?: unknown;
  /** A raw body (for malformed pages). */
  readonly body?: string | Buffer;
  /** Wait this long before answering (to trip the client's timeout). */
  readonly delayMs?: number;
  /** Send the headers and part of the body, then drop the connection. */
  readonly dropAfterBytes?: number;
}

export interface RecordedRequest {
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
}

export class SampleApi {
  readonly requests: RecordedRequest[] = [];
  private readonly served = new Map<string, number>();

  private constructor(
    private readonly server: Server,
    private readonly scripts: Record<string, readonly ScriptedResponse[]>,
    private readonly routes: Record<string, (url: URL) => ScriptedResponse>,
  ) {}

  /**
   * `scripts` answer exact paths (with their query); `routes` answer a path whatever its query.
   * `port`: where to listen (the deployed functions' API URL names it). @default a free port
   */
  static async start(
    scripts: Record<string, readonly ScriptedResponse[]>,
    routes: Record<string, (url: URL) => ScriptedResponse> = {},
    port = 0,
  ): Promise<SampleApi> {
    const server = createServer();
    const api = new SampleApi(server, scripts, routes);
    server.on("request", (req: IncomingMessage, res: ServerResponse) => api.answer(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });
    return api;
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  url(path: string): string {
    return `${this.origin}${path}`;
  }

  /** Requests made for one path (with its query). */
  count(path: string): number {
    return this.requests.filter((r) => r.path === path).length;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? "/";
    this.requests.push({ path, headers: req.headers });
    const route = this.routes[new URL(path, "http://sample").pathname] as ((url: URL) => ScriptedResponse) | undefined;
    const script = route && !this.scripts[path] ? [route(new URL(path, this.origin))] : this.scripts[path];
    if (!script || script.length === 0) {
      res
        .writeHead(404, { "content-type": "application/json" })
        .end(JSON.stringify({ error: `no script for ${path}` }));
      return;
    }
    const n = this.served.get(path) ?? 0;
    this.served.set(path, n + 1);
    const step = script[Math.min(n, script.length - 1)];
    const body = step.json !== undefined ? Buffer.from(JSON.stringify(step.json)) : Buffer.from(step.body ?? "");
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(step.status ?? 200, {
        "content-type": "application/json",
        "content-length": String(body.length),
        ...step.headers,
      });
      if (step.dropAfterBytes !== undefined) {
        res.write(body.subarray(0, step.dropAfterBytes), () => res.socket?.destroy());
      } else res.end(body);
    };
    if (step.delayMs) setTimeout(send, step.delayMs);
    else send();
  }
}

/**
 * An API over records that change between runs, as a source with a change filter behaves: a page
 * holds up to `pageSize` records ordered by `versionColumn` (then by the whole record), the
 * `parameter` query parameter keeps those whose version is at or after its value, and the next
 * link carries the filter on. Without the parameter every record is served.
 *
 *   const source = new RecordsApi({ parameter: "updated_since", versionColumn: "updated_at", pageSize: 2 });
 *   source.upsert(record, ["id"]); const api = await SampleApi.start({}, { "/v1/things": source.route() });
 */
export class RecordsApi {
  private readonly records: Record<string, unknown>[] = [];

  constructor(
    readonly options: {
      readonly parameter: string;
      readonly versionColumn: string;
      readonly pageSize: number;
      readonly itemsField?: string;
      readonly nextField?: string;
    },
  ) {}

  /** Adds a record, or replaces the one with the same values in `keyColumns`. */
  upsert(record: Record<string, unknown>, keyColumns: readonly string[]): void {
    const same = (r: Record<string, unknown>) => keyColumns.every((k) => r[k] === record[k]);
    const at = this.records.findIndex(same);
    if (at >= 0) this.records[at] = record;
    else this.records.push(record);
  }

  route(): (url: URL) => ScriptedResponse {
    return (url) => {
      const { parameter, versionColumn, pageSize } = this.options;
      const since = url.searchParams.get(parameter);
      if (since !== null && Number.isNaN(Date.parse(since)))
        return { status: 400, json: { error: `${parameter} must be a timestamp` } };
      const version = (r: Record<string, unknown>) => Date.parse(String(r[versionColumn]));
      const selected = this.records
        .filter((r) => since === null || version(r) >= Date.parse(since))
        .sort((a, b) => version(a) - version(b) || JSON.stringify(a).localeCompare(JSON.stringify(b)));
      const page = Number(url.searchParams.get("page") ?? "1");
      const items = selected.slice((page - 1) * pageSize, page * pageSize);
      let next: string | null = null;
      if (page * pageSize < selected.length) {
        const link = new URL(url.pathname, "http://sample");
        if (since !== null) link.searchParams.set(parameter, since);
        link.searchParams.set("page", String(page + 1));
        next = `${link.pathname}${link.search}`;
      }
      return { json: { [this.options.itemsField ?? "items"]: items, [this.options.nextField ?? "next"]: next } };
    };
  }
}
