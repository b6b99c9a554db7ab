/**
 * The AWS side of a run, on SDK v3 clients: conditional, SSE-KMS PutObject into the lake zones,
 * SendMessage to the dead-letter queue, and the API credentials from Secrets Manager.
 *
 * index.ts loads this module at the first invocation (`import("./aws")`), not at init: the SDK is
 * nine tenths of the bundle, and the bundler puts a dynamically imported module in a file of its own.
 */
import { PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { readFileSync } from "node:fs";
import { Agent } from "node:https";
import type { IngestConfig } from "./config";
import type { DeadLetters, ObjectStore } from "./ingest";

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

export class S3ObjectStore implements ObjectStore {
  constructor(private readonly s3: S3Client) {}

  async putIfAbsent(bucket: string, key: string, body: Buffer, kmsKeyArn: string, metadata: Record<string, string>): Promise<boolean> {
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: "application/x-ndjson",
          // The zone buckets refuse writes that name any other key: name the zone's key explicitly.
          ServerSideEncryption: "aws:kms",
          SSEKMSKeyId: kmsKeyArn,
          BucketKeyEnabled: true,
          // Keys are content hashes: an existing object already holds exactly these bytes.
          IfNoneMatch: "*",
          Metadata: metadata,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof S3ServiceException && (error.$metadata?.httpStatusCode === 412 || error.name === "PreconditionFailed")) return false;
      throw error;
    }
  }
}

export class SqsDeadLetters implements DeadLetters {
  constructor(private readonly sqs: SQSClient, private readonly queueUrl: string) {}

  async send(body: string): Promise<void> {
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: body }));
  }
}

/**
 * Request headers from the secret's JSON: `{"token": "…"}` → `Authorization: Bearer …`, or
 * `{"header": "x-api-key", "value": "…"}` → that header. The value is never logged.
 */
export async function credentialHeaders(client: SecretsManagerClient, secretArn: string | undefined): Promise<Record<string, string>> {
  if (!secretArn) return {};
  const secret = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  return headersFromSecret(secret.SecretString, secretArn);
}

export function headersFromSecret(text: string | undefined, secretArn: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? "");
  } catch {
    throw new Error(`secret ${secretArn} must hold JSON: {"token": "…"} or {"header": "<name>", "value": "…"}`);
  }
  const s = parsed as { token?: unknown; header?: unknown; value?: unknown };
  if (typeof s?.token === "string" && s.token) return { authorization: `Bearer ${s.token}` };
  if (typeof s?.header === "string" && /^[A-Za-z0-9-]+$/.test(s.header) && typeof s.value === "string" && s.value) return { [s.header.toLowerCase()]: s.value };
  throw new Error(`secret ${secretArn} must hold {"token": "…"} or {"header": "<name>", "value": "…"}`);
}
