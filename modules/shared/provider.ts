/**
 * The AWS provider and the state backend of one environment. Everything here is data from the
 * environment config: region, the one allowed account, default tags, and where state lives.
 */
import { LocalBackend, S3Backend, TerraformStack, TerraformVariable } from "cdktf";
import { AwsProvider, AwsProviderEndpoints } from "@cdktf/provider-aws/lib/provider";
import { stateKey, type EnvironmentConfig } from "../../environments";
import { localEmulatorEndpoint } from "../../environments/local";

/**
 * Services the platform calls. In `local` each is pointed at the emulator; keeping the list here
 * means a module that adds a service adds it once, for every emulator run.
 */
export const EMULATED_SERVICES = [
  "athena",
  "cloudwatch",
  "dynamodb",
  "ec2",
  "emrserverless",
  "events",
  "firehose",
  "glue",
  "iam",
  "kinesis",
  "kms",
  "lakeformation",
  "lambda",
  "logs",
  "pipes",
  "quicksight",
  "redshiftdata",
  "redshiftserverless",
  "resourcegroupstaggingapi",
  "s3",
  "s3Control",
  "scheduler",
  "secretsmanager",
  "sfn",
  "sns",
  "sqs",
  "ssm",
  "sts",
  "xray",
] as const satisfies readonly (keyof AwsProviderEndpoints)[];

/** Terraform variable holding the emulator's URL in `local` (the port is chosen at run time). */
export const EMULATOR_ENDPOINT_VARIABLE = "emulator_endpoint";

export function configureBackend(stack: TerraformStack, env: EnvironmentConfig): void {
  if (env.state.backend === "local") {
    new LocalBackend(stack, { path: env.state.path });
    return;
  }
  const backend = new S3Backend(stack, {
    bucket: env.state.bucket,
    key: stateKey(env),
    region: env.state.region,
    encrypt: true,
    kmsKeyId: env.state.kmsKeyId,
    allowedAccountIds: env.accountId ? [env.accountId] : undefined,
  });
  // S3-native locking (Terraform ≥ 1.10): no DynamoDB lock table to create and pay for.
  // cdktf 0.21 has no typed field for it yet.
  backend.addOverride("use_lockfile", true);
}

export function configureProvider(
  stack: TerraformStack,
  env: EnvironmentConfig,
  tags: Record<string, string>,
): AwsProvider {
  const common = {
    region: env.region,
    allowedAccountIds: env.accountId ? [env.accountId] : undefined,
    defaultTags: [{ tags }],
  };
  if (env.tier !== "local") return new AwsProvider(stack, "aws", common);

  const endpoint = new TerraformVariable(stack, EMULATOR_ENDPOINT_VARIABLE, {
    type: "string",
    description:
      "URL of the local AWS emulator: the local cloud's (npm run local:up) by default; tests on free ports set it",
    default: localEmulatorEndpoint(),
    nullable: false,
  }).stringValue;
  const endpoints = Object.fromEntries(EMULATED_SERVICES.map((service) => [service, endpoint]));
  return new AwsProvider(stack, "aws", {
    ...common,
    endpoints: [endpoints],
    s3UsePathStyle: true, // the emulator serves buckets by path, not by virtual host
    skipMetadataApiCheck: "true",
    // Credentials come from the environment the launcher sets; nothing secret is synthesized.
  });
}
