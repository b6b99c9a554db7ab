/**
 * The one ARN helper. Every ARN the platform writes (IAM resources, key-policy and trust
 * conditions, Step Functions and Scheduler integrations) is formatted here, in the environment's
 * partition (`partition` in the environment config), so no module hard-codes "arn:aws:".
 */
import type { AwsPartition } from "../../environments/schema";

/** The commercial partition, where every environment runs unless its config says otherwise. */
export const DEFAULT_PARTITION: AwsPartition = "aws";

export interface ArnComponents {
  /** @default DEFAULT_PARTITION */
  readonly partition?: string;
  /** Service namespace, e.g. "logs", "states". */
  readonly service: string;
  /** @default "" (global resources and service integrations have none) */
  readonly region?: string;
  /** @default "" (service integrations have none) */
  readonly account?: string;
  /** Everything after the account: "log-group:/aws-glue/*", "role/name", "glue:startJobRun.sync". */
  readonly resource: string;
}

/** "arn:<partition>:<service>:<region>:<account>:<resource>". */
export function formatArn({
  partition = DEFAULT_PARTITION,
  service,
  region = "",
  account = "",
  resource,
}: ArnComponents): string {
  return `arn:${partition}:${service}:${region}:${account}:${resource}`;
}
