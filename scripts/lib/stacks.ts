/**
 * Reading synthesized stacks (`cdktf.out/stacks/<env>/cdk.tf.json`) without knowing which modules
 * exist: every resource carries its construct path in `//.metadata.path`
 * ("<stack>/<module>/<component>/..."), which tells the module it belongs to.
 *
 * The GitOps scripts (diagrams, environment diff, artifact manifest) build on this, so a module
 * added to `modules/platform-stack.ts` shows up in all of them with no edit here.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

// Synthesized Terraform JSON follows each provider's own schema; its readers check the attributes they use
// (`at` reads a nested attribute of unknown shape).
export interface TerraformJson {
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
  readonly data?: Record<string, Record<string, Record<string, unknown>>>;
  readonly output?: Record<string, unknown>;
  readonly [key: string]: unknown;
}

export interface StackResource {
  /** Terraform type, e.g. "aws_s3_bucket". */
  readonly type: string;
  /** Terraform name (cdktf's unique id), e.g. "lake_raw_bucket_46680E45". */
  readonly name: string;
  /** "<type>.<name>": how other resources reference it. */
  readonly address: string;
  /** Construct path below the stack, e.g. ["lake", "raw", "bucket"]. */
  readonly path: readonly string[];
  /** First path segment: the module construct (e.g. "lake"); "(stack)" for resources made by the stack itself. */
  readonly module: string;
  /** Second path segment (e.g. "raw"), or the module when the resource sits directly in it. */
  readonly component: string;
  readonly body: Record<string, unknown>;
}

/** The value at `path` in JSON of unknown shape, or undefined where a step is not an object. */
export function at(value: unknown, ...path: readonly string[]): unknown {
  let here = value;
  for (const key of path) {
    if (typeof here !== "object" || here === null) return undefined;
    here = (here as Record<string, unknown>)[key];
  }
  return here;
}

/** Module name used for resources created directly in the stack, outside any module construct. */
export const STACK_LEVEL = "(stack)";

/** Every managed resource of a stack with its module and component. */
export function stackResources(json: TerraformJson): StackResource[] {
  const out: StackResource[] = [];
  for (const [type, byName] of Object.entries(json.resource ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    for (const [name, body] of Object.entries(byName).sort(([a], [b]) => a.localeCompare(b))) {
      const metadataPath = at(body, "//", "metadata", "path");
      const fullPath = typeof metadataPath === "string" ? metadataPath : undefined;
      // The first segment is the stack; without metadata, fall back to the logical name.
      const path = fullPath ? fullPath.split("/").slice(1) : [name];
      const module = path.length > 1 ? path[0] : STACK_LEVEL;
      const component = path.length > 2 ? path[1] : module;
      out.push({ type, name, address: `${type}.${name}`, path, module, component, body });
    }
  }
  return out;
}

/** Module names present in a stack, sorted. */
export function stackModules(json: TerraformJson): string[] {
  return [...new Set(stackResources(json).map((r) => r.module))].sort();
}

/** Resource count per Terraform type, sorted by type. */
export function countByType(json: TerraformJson): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of stackResources(json)) counts[r.type] = (counts[r.type] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** Resource count per module, sorted by module. */
export function countByModule(json: TerraformJson): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of stackResources(json)) counts[r.module] = (counts[r.module] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** Addresses ("type.name") a value references through Terraform interpolation, e.g. "${aws_s3_bucket.x.arn}". */
export function references(value: unknown): string[] {
  const found = new Set<string>();
  const visit = (v: unknown): void => {
    if (typeof v === "string") {
      for (const m of v.matchAll(/\$\{([a-z][a-z0-9_]*)\.([A-Za-z0-9_-]+)/g)) {
        if (m[1] !== "data" && m[1] !== "var" && m[1] !== "local" && m[1] !== "path") found.add(`${m[1]}.${m[2]}`);
      }
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) if (k !== "//") visit(x);
  };
  visit(value);
  return [...found].sort();
}

export interface SynthesizedStack {
  readonly name: string;
  readonly dir: string;
  readonly json: TerraformJson;
}

/** The stacks of a synth output directory (`<outdir>/stacks/<name>/cdk.tf.json`), sorted by name. */
export function readStacks(outdir: string): SynthesizedStack[] {
  const stacksDir = join(outdir, "stacks");
  if (!existsSync(stacksDir))
    throw new Error(`${stacksDir} does not exist: run \`npm run synth\` first (or pass the synth output directory)`);
  return readdirSync(stacksDir)
    .sort()
    .map((name) => ({
      name,
      dir: join(stacksDir, name),
      json: JSON.parse(readFileSync(join(stacksDir, name, "cdk.tf.json"), "utf8")),
    }));
}
