/**
 * Why grants the end-to-end run does not (always) use are kept: one place for the reasons that
 * several modules give, each with the AWS documentation that requires the permission. The
 * unused-access report (docs/unused-access.md) shows them next to each unused action.
 */
import type { KeptReason } from "./iam";

/** Used only when delivery fails: a dead-letter queue receives nothing on a good run. */
export const DEAD_LETTER_ONLY: KeptReason = {
  reason: "used only on failure: the service sends here what it could not deliver after its retries",
  citation: "https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html",
  varies: true,
};

/** Alerts are published only when a run fails. */
export const ALERT_ONLY: KeptReason = {
  reason: "used only on failure: the pipeline publishes an alert when a step fails",
  citation: "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html",
  varies: true,
};

/** State an earlier run wrote (a watermark, an export history): a first run finds none. */
export const EARLIER_RUN_STATE: KeptReason = {
  reason: "reads back what an earlier run wrote; a run that finds no state yet lists and decrypts nothing",
  varies: true,
};

/** Secrets Manager decrypts a secret with its key under the caller's credentials. */
export const SECRET_DECRYPT: KeptReason = {
  reason:
    "Secrets Manager decrypts the secret with this key under the caller's credentials; the emulator derives no KMS call behind GetSecretValue",
  citation: "https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html",
};

/** SQS decrypts (and, for a sender, encrypts) messages with the queue's key under the caller's credentials. */
export const QUEUE_KEY: KeptReason = {
  reason:
    "SQS uses the queue's key under the caller's credentials to encrypt and decrypt messages; the emulator derives no KMS call behind SQS",
  citation: "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html",
};

/** SNS encrypts a published message with the topic's key under the publisher's credentials. */
export const TOPIC_KEY: KeptReason = {
  reason: "SNS uses the topic's key under the publisher's credentials; the emulator derives no KMS call behind SNS",
  citation: "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html",
};

/** X-Ray: segments are sent when tracing is on; the emulator records none. */
export const XRAY_TRACING: KeptReason = {
  reason: "active tracing sends segments and reads sampling rules with the role; the emulator does not trace",
  citation: "https://docs.aws.amazon.com/xray/latest/devguide/security_iam_id-based-policy-examples.html",
};

/** EventBridge Scheduler decrypts a schedule's input with the execution role. */
export const SCHEDULE_INPUT: KeptReason = {
  reason:
    "EventBridge Scheduler decrypts the schedule's input, stored under this key, with the execution role; the emulated scheduler stores it in plain text",
  citation: "https://docs.aws.amazon.com/scheduler/latest/UserGuide/encryption-rest.html",
};
