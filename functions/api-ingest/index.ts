/**
 * api-ingest: pages an external HTTP API into the raw zone (see README.md).
 *
 * `handler` is the Lambda entry point. It is configured only through environment variables
 * (config.ts), so the same code runs in Lambda and locally (local.ts, against the emulator).
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { S3Client } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import { readFileSync } from "node:fs";
import { Agent } from "node:https";
import { credentialHeaders, S3ObjectStore, SqsDeadLetters } from "./aws";
import { loadConfig, type IngestConfig } from "./config";
import { ingest, type IngestDeps, type IngestEvent, type RunSummary } from "./ingest";

export { ConfigurationError, loadConfig } from "./config";
export type { IngestConfig } from "./config";
export { DeadLetterError, ingest } from "./ingest";
export type { DeadLetter, IngestDeps, IngestEvent, RunStatus, RunSummary } from "./ingest";
export { REASONS } from "./records";

/** The part of Lambda's context the handler uses. */
export interface InvocationContext {
  getRemainingTimeInMillis?(): number;
  awsRequestId?: string;
}

export interface Clients {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly secrets: SecretsManagerClient;
}

/**
 * SDK clients from the environment. In Lambda that is all defaults; locally, `AWS_ENDPOINT_URL`
 * (read by the SDK itself) points them at the emulator and `AWS_CA_BUNDLE` names the CA it uses.
 */
export function clientsFromEnv(env: NodeJS.ProcessEnv, config: Pick<IngestConfig, "s3ForcePathStyle">): Clients {
  const caBundle = env.AWS_CA_BUNDLE;
  const requestHandler = caBundle ? { httpsAgent: new Agent({ ca: readFileSync(caBundle), keepAlive: true }) } : undefined;
  const common = { ...(requestHandler ? { requestHandler } : {}) };
  return {
    s3: new S3Client({ ...common, forcePathStyle: config.s3ForcePathStyle }),
    sqs: new SQSClient(common),
    secrets: new SecretsManagerClient(common),
  };
}

/** Builds a handler around given clients (tests pass clients for the emulator or mocks). */
export function createHandler(options: { env?: NodeJS.ProcessEnv; clients?: Clients; overrides?: Partial<IngestDeps> } = {}) {
  const env = options.env ?? process.env;
  const logger = new Logger({
    serviceName: env.POWERTOOLS_SERVICE_NAME ?? "api-ingest",
    logLevel: (env.POWERTOOLS_LOG_LEVEL ?? env.AWS_LAMBDA_LOG_LEVEL ?? "INFO") as never,
  });
  const metrics = new Metrics({ namespace: env.POWERTOOLS_METRICS_NAMESPACE ?? "dataplat", serviceName: env.POWERTOOLS_SERVICE_NAME ?? "api-ingest" });
  let cached: { config: IngestConfig; clients: Clients } | undefined;

  return async function handler(event: IngestEvent | null | undefined, context: InvocationContext = {}): Promise<RunSummary> {
    // Configuration is read on the first invocation: a bad variable fails that invocation, loudly.
    cached ??= (() => {
      const config = loadConfig(env);
      return { config, clients: options.clients ?? clientsFromEnv(env, config) };
    })();
    const { config, clients } = cached;
    logger.appendKeys({ dataset: config.dataset, ...(context.awsRequestId ? { requestId: context.awsRequestId } : {}) });
    metrics.addDimension("dataset", config.dataset);
    const deps: IngestDeps = {
      store: new S3ObjectStore(clients.s3),
      deadLetters: new SqsDeadLetters(clients.sqs, config.deadLetterQueueUrl),
      credentials: () => credentialHeaders(clients.secrets, config.apiSecretArn),
      log: {
        info: (m, e) => logger.info(m, e ?? {}),
        warn: (m, e) => logger.warn(m, e ?? {}),
        error: (m, e) => logger.error(m, e ?? {}),
      },
      metrics: { count: (name, value) => metrics.addMetric(name, MetricUnit.Count, value) },
      remainingMs: context.getRemainingTimeInMillis ? () => context.getRemainingTimeInMillis!() : undefined,
      ...options.overrides,
    };
    try {
      return await ingest(config, deps, parseEvent(event));
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

/** Scheduled invocations carry the scheduler's input (`{}`); a redrive carries `{ "startUrl": … }`. */
function parseEvent(event: unknown): IngestEvent {
  if (event === null || event === undefined || typeof event !== "object") return {};
  const startUrl = (event as { startUrl?: unknown }).startUrl;
  if (startUrl === undefined) return {};
  if (typeof startUrl !== "string") throw new Error(`event.startUrl must be a URL string (got ${JSON.stringify(startUrl)})`);
  return { startUrl };
}

/** The Lambda entry point (`index.handler`). */
export const handler = createHandler();
