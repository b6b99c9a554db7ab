/** An environment's stack synthesized with everything: ingestion's jobs feed the pipelines. */
import { Testing } from "cdktf";
import type { EnvironmentConfig } from "../../environments";
import { PlatformStack, type PlatformStackOptions } from "../../modules/platform-stack";
import type { TerraformJson } from "./synth";

export function synthWithIngestion(
  config: EnvironmentConfig,
  options: PlatformStackOptions = {},
): { stack: PlatformStack; json: TerraformJson } {
  const stack = new PlatformStack(Testing.app(), config, options);
  return { stack, json: JSON.parse(Testing.synth(stack)) };
}
