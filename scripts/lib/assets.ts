/**
 * Assets (TerraformAsset files: Lambda zips, Glue scripts, ...) as the synthesized stacks reference
 * them. cdktf copies each asset into `stacks/<env>/assets/<id>/<hash>/<file>` and writes that
 * relative path into the resource (`filename`, `source`, ...).
 *
 * Promotion ships one artifact to every environment, so an asset must be byte-identical in every
 * stack that uses it. `compareAssets` checks exactly that over whatever assets the stacks reference,
 * so it covers bundles as soon as a module adds them.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { stackResources, type SynthesizedStack } from "./stacks";

/** How cdktf writes an asset reference: "assets/<construct id>/<hash>/<file>". */
const ASSET_PATH = /^assets\/[^/]+\/[^/]+\/.+/;

export interface AssetReference {
  /** Where the reference sits, stable across environments: "<type>.<name>.<attribute path>". */
  readonly reference: string;
  /** The path as written in the stack, relative to the stack directory. */
  readonly path: string;
  /** sha256 of the file's bytes; undefined when the file is missing. */
  readonly sha256?: string;
}

export function sha256File(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/** Every asset a stack references, with the sha256 of the file the stack directory holds. */
export function assetReferences(stack: SynthesizedStack): AssetReference[] {
  const out: AssetReference[] = [];
  const visit = (value: unknown, where: string): void => {
    if (typeof value === "string") {
      if (ASSET_PATH.test(value)) {
        const file = join(stack.dir, value);
        const present = existsSync(file) && statSync(file).isFile();
        out.push({ reference: where, path: value, sha256: present ? sha256File(file) : undefined });
      }
    } else if (Array.isArray(value)) value.forEach((v, i) => visit(v, `${where}[${i}]`));
    else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) if (k !== "//") visit(v, `${where}.${k}`);
    }
  };
  for (const r of stackResources(stack.json)) visit(r.body, r.address);
  return out.sort((a, b) => a.reference.localeCompare(b.reference));
}

export interface AssetComparison {
  /** Each reference with the environments using it and the sha256 it has there. */
  readonly assets: { reference: string; path: string; sha256: Record<string, string | undefined> }[];
  /** Human-readable problems: missing files, or one reference with different bytes per environment. */
  readonly problems: string[];
}

/**
 * Compares assets across stacks. A reference present in several stacks must point at the same
 * relative path with the same bytes in all of them. (A reference present in only some stacks, such
 * as an opt-in service's bundle, is fine.)
 */
export function compareAssets(stacks: readonly SynthesizedStack[]): AssetComparison {
  const byReference = new Map<string, { paths: Map<string, string>; sha256: Record<string, string | undefined> }>();
  const problems: string[] = [];
  for (const stack of stacks) {
    for (const ref of assetReferences(stack)) {
      if (ref.sha256 === undefined)
        problems.push(`${stack.name}: ${ref.reference} references ${ref.path}, which is not in the synth output`);
      const entry = byReference.get(ref.reference) ?? { paths: new Map<string, string>(), sha256: {} };
      entry.paths.set(stack.name, ref.path);
      entry.sha256[stack.name] = ref.sha256;
      byReference.set(ref.reference, entry);
    }
  }
  const assets = [...byReference.entries()].map(([reference, e]) => {
    const paths = new Set(e.paths.values());
    const hashes = new Set(Object.values(e.sha256).filter((h): h is string => h !== undefined));
    if (paths.size > 1) {
      problems.push(
        `${reference}: the asset path differs between environments (${[...e.paths].map(([env, p]) => `${env}: ${p}`).join("; ")})`,
      );
    }
    if (hashes.size > 1) {
      problems.push(
        `${reference}: the asset bytes differ between environments (${Object.entries(e.sha256)
          .map(([env, h]) => `${env}: ${h?.slice(0, 12) ?? "missing"}`)
          .join("; ")})`,
      );
    }
    return { reference, path: [...paths][0], sha256: e.sha256 };
  });
  return { assets, problems };
}
