/**
 * The AWS side of a run, on SDK v3 clients: conditional, SSE-KMS PutObject into the lake zones,
 * SendMessage to the dead-letter queue, the API credentials from Secrets Manager, and the
 * high-water mark as one S3 object in the state bucket, replaced with a conditional write.
 *
 * index.ts loads this module at the first invocation (`import("./aws")`), not at init: the SDK is
 * nine tenths of the bundle, and the bundler puts a dynamically imported module in a file of its own.
 */
import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { readFileSync } from "node:fs";
import { Agent } from "node:https";
import type { IngestConfig } from "./config";
import type { DeadLetters, Mark, MarkStore, ObjectStore } from "./ingest";

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
  const requestHandler = caBundle
    ? { httpsAgent: new Agent({ ca: readFileSync(caBundle), keepAlive: true }) }
    : undefined;
  const common = { ...(requestHandler ? { requestHandler } : {}) };
  return {
    s3: new S3Client({ ...common, forcePathStyle: config.s3ForcePathStyle }),
    sqs: new SQSClient(common),
    secrets: new SecretsManagerClient(common),
  };
}

export class S3ObjectStore implements ObjectStore {
  constructor(private readonly s3: S3Client) {}

  async putIfAbsent(
    bucket: string,
    key: string,
    body: Buffer,
    kmsKeyArn: string,
    metadata: Record<string, string>,
  ): Promise<boolean> {
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
      if (
        error instanceof S3ServiceException &&
        (error.$metadata?.httpStatusCode === 412 || error.name === "PreconditionFailed")
      )
        return false;
      throw error;
    }
  }
}

/**
 * The mark as `s3://<state bucket>/<dataset>/api-ingest/mark.json` (SSE-KMS under the state key;
 * the bucket is versioned, so every earlier mark stays readable). A write names the version it
 * replaces (If-Match on its ETag, If-None-Match for the first one): a run that read an older mark
 * cannot overwrite a newer one.
 */
export class S3MarkStore implements MarkStore {
  constructor(
    private readonly s3: S3Client,
    private readonly location: { readonly bucket: string; readonly key: string; readonly kmsKeyArn: string },
  ) {}

  async read(): Promise<{ mark: Mark; token: string } | undefined> {
    const { bucket, key } = this.location;
    let text: string;
    let etag: string;
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      text = (await object.Body?.transformToString("utf8")) ?? "";
      etag = object.ETag ?? "";
    } catch (error) {
      if (
        error instanceof S3ServiceException &&
        (error.name === "NoSuchKey" || error.$metadata?.httpStatusCode === 404)
      )
        return undefined;
      throw error;
    }
    return { mark: parseMark(text, `s3://${bucket}/${key}`), token: etag };
  }

  async write(mark: Mark, token: string | undefined): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.location.bucket,
        Key: this.location.key,
        Body: `${JSON.stringify(mark)}\n`,
        ContentType: "application/json",
        ServerSideEncryption: "aws:kms",
        SSEKMSKeyId: this.location.kmsKeyArn,
        BucketKeyEnabled: true,
        ...(token ? { IfMatch: token } : { IfNoneMatch: "*" }),
      }),
    );
  }
}

/** A stored mark, checked: a damaged one fails the run (reading from scratch would hide it). */
export function parseMark(text: string, where: string): Mark {
  let value: Partial<Mark>;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${where} is not JSON; fix or delete it (deleting makes the next run read in full)`);
  }
  if (
    typeof value?.mark !== "string" ||
    Number.isNaN(Date.parse(value.mark)) ||
    !Array.isArray(value.edge) ||
    !value.edge.every((f) => typeof f === "string")
  ) {
    throw new Error(
      `${where} is not a high-water mark ({"mark": "<timestamp>", "edge": [...]}); fix or delete it (deleting makes the next run read in full)`,
    );
  }
  return { mark: value.mark, edge: value.edge, updatedAt: typeof value.updatedAt === "string" ? value.updatedAt : "" };
}

export class SqsDeadLetters implements DeadLetters {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(body: string): Promise<void> {
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: body }));
  }
}

/**
 * Request headers from the secret's JSON: `{"token": "…"}` → `Authorization: Bearer …`, or
 * `{"header": "x-api-key", "value": "…"}` → that header. The value is never logged.
 */
export async function credentialHeaders(
  client: SecretsManagerClient,
  secretArn: string | undefined,
): Promise<Record<string, string>> {
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
  if (typeof s?.header === "string" && /^[A-Za-z0-9-]+$/.test(s.header) && typeof s.value === "string" && s.value)
    return { [s.header.toLowerCase()]: s.value };
  throw new Error(`secret ${secretArn} must hold {"token": "…"} or {"header": "<name>", "value": "…"}`);
}
