/**
 * A scripted HTTP API on a loopback port, standing in for the carrier's API: each path answers
 * with the next response of its script (the last one repeats), so retries, malformed pages and
 * pagination can be played exactly. Used by the handler tests and by the main job (scripts/main-job.ts), which serves the sample carrier API with it.
 *
 *   const api = await SampleApi.start({ "/v1/shipments": [{ status: 503 }, { json: { items: [...], next: "/v1/shipments?page=2" } }] });
 *   api.url("/v1/shipments"); api.requests; await api.stop();
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

  private constructor(private readonly server: Server, private readonly scripts: Record<string, readonly ScriptedResponse[]>) {}

  static async start(scripts: Record<string, readonly ScriptedResponse[]>): Promise<SampleApi> {
    let api: SampleApi | undefined;
    const server = createServer((req, res) => api!.answer(req, res));
    api = new SampleApi(server, scripts);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
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
    const script = this.scripts[path];
    if (!script || script.length === 0) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: `no script for ${path}` }));
      return;
    }
    const n = this.served.get(path) ?? 0;
    this.served.set(path, n + 1);
    const step = script[Math.min(n, script.length - 1)];
    const body = step.json !== undefined ? Buffer.from(JSON.stringify(step.json)) : Buffer.from(step.body ?? "");
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(step.status ?? 200, { "content-type": "application/json", "content-length": String(body.length), ...step.headers });
      if (step.dropAfterBytes !== undefined) {
        res.write(body.subarray(0, step.dropAfterBytes), () => res.socket?.destroy());
      } else res.end(body);
    };
    if (step.delayMs) setTimeout(send, step.delayMs);
    else send();
  }
}
