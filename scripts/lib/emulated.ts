/**
 * Terraform against the emulator, for every environment.
 *
 *  - `local`: its synthesized stack already points every service at `var.emulator_endpoint`;
 *    it is applied from a working copy with its own (fresh) local state.
 *  - dev/staging/prod: planned with their real configuration — region, allowed account, every
 *    resource — from a working copy whose `emulator_override.tf.json` only redirects the AWS
 *    endpoints to the emulator and swaps the S3 backend for a local one. The emulator acts as the
 *    environment's own account (the access key selects it), so `allowed_account_ids` is checked
 *    for real.
 *
 * Working copies live under .emulator/work/<env>/ and never touch cdktf.out.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { EnvironmentConfig } from "../../environments";
import { EMULATED_SERVICES } from "../../modules/shared/provider";
import type { Emulator } from "../emulator";
import { EMULATOR_PARALLELISM, ROOT, TerraformResult, terraform, terraformAsync } from "./terraform";

export const WORK_DIR = join(ROOT, ".emulator", "work");

/** Provider attribute names for the endpoints block (the binding's camelCase → Terraform's). */
const ENDPOINT_KEYS = EMULATED_SERVICES.map((s) =>
  s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/^s3_control$/, "s3control"),
);

export interface EmulatedStack {
  readonly environment: string;
  readonly dir: string;
  /** Environment variables for terraform: credentials of the environment's account, CA bundle, endpoint. */
  readonly env: Record<string, string>;
}

/**
 * A fresh working copy of `<synthDir>/stacks/<env>` wired to the emulator. Fresh because the
 * emulator starts empty: old state would describe resources that no longer exist. A test running
 * beside others passes its own `workDir` so no two share a working copy.
 */
export function prepareStack(
  synthDir: string,
  config: EnvironmentConfig,
  emulator: Emulator,
  workDir = WORK_DIR,
): EmulatedStack {
  const source = join(synthDir, "stacks", config.name);
  if (!existsSync(join(source, "cdk.tf.json")))
    throw new Error(`no synthesized stack for ${config.name} in ${synthDir}; run synth first`);
  const dir = join(workDir, config.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(source, dir, {
    recursive: true,
    filter: (path) => !path.includes(`${join(source, ".terraform")}`) && !/\.tfstate/.test(path),
  });
  if (config.tier !== "local") {
    const endpoints = Object.fromEntries(ENDPOINT_KEYS.map((key) => [key, emulator.endpoint]));
    writeFileSync(
      join(dir, "emulator_override.tf.json"),
      JSON.stringify(
        {
          terraform: { backend: { local: { path: "terraform.tfstate" } } },
          provider: { aws: [{ endpoints: [endpoints], s3_use_path_style: true, skip_metadata_api_check: "true" }] },
        },
        null,
        2,
      ),
    );
  }
  return { environment: config.name, dir, env: emulator.env(config.accountId ?? undefined, config.region) };
}

/** The arguments of each terraform command run against the emulator: one place for sync and async runs. */
const INIT = ["init", "-input=false", "-reconfigure"];
export const APPLY = ["apply", "-input=false", "-auto-approve", `-parallelism=${EMULATOR_PARALLELISM}`];
const PLAN = ["plan", "-input=false", "-detailed-exitcode", `-parallelism=${EMULATOR_PARALLELISM}`];

export function init(stack: EmulatedStack): TerraformResult {
  return terraform(INIT, stack.dir, stack.env);
}

export function apply(stack: EmulatedStack): TerraformResult {
  return terraform(APPLY, stack.dir, stack.env);
}

/** `apply`, as a child process the caller can overlap with other work. */
export function applyAsync(stack: EmulatedStack): Promise<TerraformResult> {
  return terraformAsync(APPLY, stack.dir, stack.env);
}

/** `plan -detailed-exitcode`: status 0 = no changes, 2 = changes, 1 = error. */
export function plan(stack: EmulatedStack, out?: string): TerraformResult {
  return terraform([...PLAN, ...(out ? [`-out=${out}`] : [])], stack.dir, stack.env);
}

/** `init` then `plan`, as a child process the caller can overlap with other work. */
export async function initAndPlanAsync(
  stack: EmulatedStack,
): Promise<{ init: TerraformResult; plan?: TerraformResult }> {
  const init = await terraformAsync(INIT, stack.dir, stack.env);
  if (!init.ok) return { init };
  return { init, plan: await terraformAsync(PLAN, stack.dir, stack.env) };
}

/** Managed resources recorded in the working copy's state. */
export function stateResources(stack: EmulatedStack): { address: string; type: string }[] {
  const file = join(stack.dir, "terraform.tfstate");
  const localPath = JSON.parse(readFileSync(join(stack.dir, "cdk.tf.json"), "utf8")).terraform?.backend?.local?.path;
  const stateFile = existsSync(file) ? file : join(stack.dir, localPath ?? "terraform.tfstate");
  const state = JSON.parse(readFileSync(stateFile, "utf8")) as {
    resources: { mode: string; type: string; name: string }[];
  };
  return state.resources
    .filter((r) => r.mode === "managed")
    .map((r) => ({ address: `${r.type}.${r.name}`, type: r.type }));
}

/** The "Plan: X to add, Y to change, Z to destroy." line, or the error's last lines. */
export function planLine(result: TerraformResult): string {
  const line = /Plan: .*|No changes\..*/.exec(result.stdout)?.[0];
  return line ?? (result.stderr.trim().split("\n").slice(-8).join("\n") || "no plan output");
}

/** `terraform output -json` of a working copy. */
export function terraformOutputJson(stack: EmulatedStack): string {
  const result = terraform(["output", "-json"], stack.dir, stack.env);
  if (!result.ok) throw new Error(`terraform output failed:\n${result.stderr}`);
  return result.stdout;
}
