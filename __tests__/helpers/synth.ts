/** Synthesizes environments in-process and gives typed access to the Terraform JSON. */
import { Testing } from "cdktf";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { EnvironmentConfig, loadEnvironments } from "../../environments";
import { PlatformStack, type PlatformStackOptions } from "../../modules/platform-stack";
import { defined } from "../../modules/shared/defined";

/* eslint-disable @typescript-eslint/no-explicit-any -- synthesized Terraform JSON: the tests index any resource's attributes */
export type TerraformJson = {
  terraform: any;
  provider: any;
  resource: Record<string, Record<string, any>>;
  data?: Record<string, Record<string, any>>;
  output?: Record<string, any>;
  variable?: Record<string, any>;
};

export interface SynthesizedResource {
  readonly type: string;
  readonly name: string;
  readonly body: Record<string, any>;
}

export function synthEnvironment(config: EnvironmentConfig, options: PlatformStackOptions = {}): TerraformJson {
  const stack = new PlatformStack(Testing.app(), config, options);
  return JSON.parse(Testing.synth(stack));
}

const cache = new Map<string, TerraformJson>();

/** Every environment's config and synthesized JSON (synthesized once per test file). */
export function synthAll(): { config: EnvironmentConfig; json: TerraformJson }[] {
  return loadEnvironments().map((config) => {
    if (!cache.has(config.name)) cache.set(config.name, synthEnvironment(config));
    return { config, json: defined(cache.get(config.name), `the synthesized ${config.name} stack`) };
  });
}

export function synthNamed(name: string): { config: EnvironmentConfig; json: TerraformJson } {
  const found = synthAll().find((e) => e.config.name === name);
  if (!found) throw new Error(`no environment ${name}`);
  return found;
}

/**
 * One environment's JSON as `cdktf synth` writes it, with the construct metadata (`//`, e.g. each
 * resource's construct path) that `Testing.synth` strips. The GitOps scripts read that metadata.
 */
export function synthWithMetadata(config: EnvironmentConfig, extend?: (stack: PlatformStack) => void): TerraformJson {
  const stack = new PlatformStack(Testing.app(), config);
  extend?.(stack);
  const outdir = Testing.fullSynth(stack);
  try {
    return JSON.parse(readFileSync(join(outdir, "stacks", config.name, "cdk.tf.json"), "utf8"));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

const fullCache = new Map<string, TerraformJson>();

/** Every environment's config and JSON with construct metadata (synthesized once per test file). */
export function synthAllWithMetadata(): { config: EnvironmentConfig; json: TerraformJson }[] {
  return loadEnvironments().map((config) => {
    if (!fullCache.has(config.name)) fullCache.set(config.name, synthWithMetadata(config));
    return { config, json: defined(fullCache.get(config.name), `the fully synthesized ${config.name} stack`) };
  });
}

/** All resources (optionally of one type) as a flat list. */
export function resources(json: TerraformJson, type?: string): SynthesizedResource[] {
  return Object.entries(json.resource ?? {})
    .filter(([t]) => type === undefined || t === type)
    .flatMap(([t, byName]) => Object.entries(byName).map(([name, body]) => ({ type: t, name, body })));
}

/** The resource of `type` whose attribute `attr` references resource `ref` (e.g. the versioning of a bucket). */
export function attachedTo(json: TerraformJson, type: string, ref: string, attr = "bucket"): SynthesizedResource[] {
  return resources(json, type).filter((r) => typeof r.body[attr] === "string" && r.body[attr].startsWith(`\${${ref}.`));
}

/**
 * The one resource of `type` whose logical name is "<path with / as _>_<hash>", e.g. "catalog/orders-processed".
 * (cdktf drops a path part that repeats the one before it: "catalog/key/key" is named "catalog_key_<hash>".)
 */
export function byPath(json: TerraformJson, type: string, path: string): SynthesizedResource {
  const name = new RegExp(`^${path.replace(/\//g, "_").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}_[0-9A-F]{8}$`);
  const found = resources(json, type).filter((r) => name.test(r.name));
  if (found.length !== 1) throw new Error(`expected one ${type} at ${path}, found ${found.length}`);
  return found[0];
}

/** "${type.name}" reference prefix of a synthesized resource, as other resources write it. */
export function refOf(r: SynthesizedResource): string {
  return `\${${r.type}.${r.name}`;
}

/** Parses an IAM policy document embedded as a JSON string. */
export function parsePolicy(policy: string): { Version: string; Statement: any[] } {
  return JSON.parse(policy);
}

export function asArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
