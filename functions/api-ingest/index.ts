/**
 * api-ingest: pages an external HTTP API into the raw zone (see README.md).
 *
 * `handler` is the Lambda entry point. It is configured only through environment variables
 * (config.ts), so the same code runs in Lambda and locally (local.ts, against the emulator).
 */
import type { Logger } from "@aws-lambda-powertools/logger";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import type { Clients } from "./aws";
import { loadConfig, type IngestConfig } from "./config";
import { ingest, type IngestDeps, type IngestEvent, type RunSummary } from "./ingest";

export type { Clients } from "./aws";
export { ConfigurationError, loadConfig } from "./config";
export type { IngestConfig } from "./config";
export { DeadLetterError, MarkError, ingest, nextMark, recordFingerprint, sinceValue } from "./ingest";
export type {
  DeadLetter,
  IncrementalSummary,
  IngestDeps,
  IngestEvent,
  Mark,
  MarkStore,
  RunStatus,
  RunSummary,
} from "./ingest";
export { REASONS } from "./records";

/** The part of Lambda's context the handler uses. */
export interface InvocationContext {
  getRemainingTimeInMillis?(): number;
  awsRequestId?: string;
}

/**
 * Builds a handler around given clients (tests pass clients for the emulator or mocks).
 *
 * Nothing heavy happens at init (module load): the configuration is read, the AWS SDK side
 * (./aws) and Powertools are loaded — the bundler puts each dynamically imported module in a file
 * of its own — and the logger and metrics are created at the first invocation, then kept for the
 * next ones. Cold init then costs about what an empty handler's does (`npm run bench -- --only
 * lambda`); the first invocation pays for loading the SDK instead.
 */
export function createHandler(
  options: { env?: NodeJS.ProcessEnv; clients?: Clients; overrides?: Partial<IngestDeps> } = {},
) {
  const env = options.env ?? process.env;
  let ready: Promise<Ready> | undefined;

  const prepare = async (): Promise<Ready> => {
    // Configuration is read on the first invocation: a bad variable fails that invocation, loudly.
    const config = loadConfig(env);
    const [aws, { Logger }, { Metrics, MetricUnit }] = await Promise.all([
      import("./aws"),
      import("@aws-lambda-powertools/logger"),
      import("@aws-lambda-powertools/metrics"),
    ]);
    const clients = options.clients ?? aws.clientsFromEnv(env, config);
    const logger = new Logger({
      serviceName: env.POWERTOOLS_SERVICE_NAME ?? "api-ingest",
      logLevel: (env.POWERTOOLS_LOG_LEVEL ?? env.AWS_LAMBDA_LOG_LEVEL ?? "INFO") as never,
    });
    const metrics = new Metrics({
      namespace: env.POWERTOOLS_METRICS_NAMESPACE ?? "dataplat",
      serviceName: env.POWERTOOLS_SERVICE_NAME ?? "api-ingest",
    });
    const count = (name: string, value: number) => metrics.addMetric(name, MetricUnit.Count, value);
    return { config, logger, metrics, count, aws, clients };
  };

  return async function handler(
    event: IngestEvent | null | undefined,
    context: InvocationContext = {},
  ): Promise<RunSummary> {
    // A failed preparation (e.g. bad configuration) is not kept: the next invocation tries again.
    const { config, logger, metrics, count, aws, clients } = await (ready ??= prepare().catch((error: unknown) => {
      ready = undefined;
      throw error;
    }));
    logger.appendKeys({
      dataset: config.dataset,
      ...(context.awsRequestId ? { requestId: context.awsRequestId } : {}),
    });
    metrics.addDimension("dataset", config.dataset);
    const deps: IngestDeps = {
      store: new aws.S3ObjectStore(clients.s3),
      deadLetters: new aws.SqsDeadLetters(clients.sqs, config.deadLetterQueueUrl),
      ...(config.state ? { marks: new aws.S3MarkStore(clients.s3, config.state) } : {}),
      credentials: () => aws.credentialHeaders(clients.secrets, config.apiSecretArn),
      log: {
        info: (m, e) => logger.info(m, e ?? {}),
        warn: (m, e) => logger.warn(m, e ?? {}),
        error: (m, e) => logger.error(m, e ?? {}),
      },
      metrics: { count },
      remainingMs: context.getRemainingTimeInMillis?.bind(context),
      ...options.overrides,
    };
    try {
      return await ingest(config, deps, parseEvent(event));
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

interface Ready {
  readonly config: IngestConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly count: (name: string, value: number) => void;
  readonly aws: typeof import("./aws");
  readonly clients: Clients;
}

/** Scheduled invocations carry the scheduler's input (`{}`); a redrive carries `{ "startUrl": … }`. */
function parseEvent(event: unknown): IngestEvent {
  if (event === null || event === undefined || typeof event !== "object") return {};
  const startUrl = (event as { startUrl?: unknown }).startUrl;
  if (startUrl === undefined) return {};
  if (typeof startUrl !== "string")
    throw new Error(`event.startUrl must be a URL string (got ${JSON.stringify(startUrl)})`);
  return { startUrl };
}

/** The Lambda entry point (`index.handler`). */
export const handler = createHandler();
