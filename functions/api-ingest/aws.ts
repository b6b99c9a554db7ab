/**
 * The AWS side of a run, on SDK v3 clients: conditional, SSE-KMS PutObject into the lake zones,
 * SendMessage to the dead-letter queue, and the API credentials from Secrets Manager.
 */
import { PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { DeadLetters, ObjectStore } from "./ingest";

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
