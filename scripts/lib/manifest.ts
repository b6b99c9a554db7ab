/**
 * The artifact manifest: sha256 of every file of a synth output (stack JSON and asset bundles) and
 * one digest over all of them. The deploy workflow builds the artifact once, passes the digest from
 * the build job to every apply job, and each apply job verifies the files against it first.
 *
 * The digest is the sha256 of `sha256sum`-format lines ("<sha256>  <path>\n", sorted by path), so it
 * can be recomputed with coreutils alone (see docs/operator-guide.md).
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { compareAssets, sha256File } from "./assets";
import { readStacks } from "./stacks";

export const MANIFEST_FILE = "artifact-manifest.json";

/** Terraform working files that `init`/`plan` may leave in a stack directory; never part of the artifact. */
function isWorkingFile(relPath: string): boolean {
  const parts = relPath.split("/");
  const base = parts[parts.length - 1];
  return (
    parts.includes(".terraform") ||
    base === ".terraform.lock.hcl" ||
    base.endsWith(".tfplan") ||
    /^terraform\.tfstate(\.backup)?$/.test(base)
  );
}

export interface ArtifactManifest {
  readonly version: 1;
  /** sha256 over the sorted `sha256sum` lines of `files`. */
  readonly digest: string;
  /** Relative path (forward slashes) → sha256. */
  readonly files: Record<string, string>;
  /** Stack name → its files (the stack JSON and its assets). */
  readonly stacks: Record<string, string[]>;
  /** Asset references and their sha256 per environment (identical across environments by construction). */
  readonly bundles: { reference: string; path: string; sha256: string; environments: string[] }[];
}

/** Files of the synth output, relative, sorted, without the manifest itself and Terraform working files. */
export function artifactFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d)) {
      const path = join(d, entry);
      const rel = relative(dir, path).split(sep).join("/");
      if (rel === MANIFEST_FILE || isWorkingFile(rel)) continue;
      if (statSync(path).isDirectory()) walk(path);
      else out.push(rel);
    }
  };
  walk(dir);
  return out.sort();
}

export function digestOf(files: Record<string, string>): string {
  const lines = Object.keys(files)
    .sort()
    .map((path) => `${files[path]}  ${path}\n`)
    .join("");
  return createHash("sha256").update(lines).digest("hex");
}

/** Builds the manifest of a synth output. Throws when an asset differs between environments. */
export function buildManifest(dir: string): ArtifactManifest {
  const files = Object.fromEntries(artifactFiles(dir).map((rel) => [rel, sha256File(join(dir, rel))]));
  const stacks = readStacks(dir);
  const comparison = compareAssets(stacks);
  if (comparison.problems.length > 0) {
    throw new Error(
      `the bundles are not identical across environments; one artifact cannot be promoted:\n  - ${comparison.problems.join("\n  - ")}`,
    );
  }
  return {
    version: 1,
    digest: digestOf(files),
    files,
    stacks: Object.fromEntries(
      stacks.map((s) => [s.name, Object.keys(files).filter((f) => f.startsWith(`stacks/${s.name}/`))]),
    ),
    bundles: comparison.assets.map((a) => ({
      reference: a.reference,
      path: a.path,
      sha256: Object.values(a.sha256)[0] as string,
      environments: Object.keys(a.sha256).sort(),
    })),
  };
}

export function writeManifest(dir: string): ArtifactManifest {
  const manifest = buildManifest(dir);
  writeFileSync(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

export interface Verification {
  readonly ok: boolean;
  readonly digest?: string;
  readonly problems: string[];
}

/**
 * Checks a synth output against its manifest: every listed file present with the listed sha256, no
 * unlisted file, the manifest's digest consistent with its file list, and (when given) the digest
 * equal to the one the build job published.
 */
export function verifyManifest(dir: string, expectedDigest?: string): Verification {
  const manifestPath = join(dir, MANIFEST_FILE);
  if (!existsSync(manifestPath))
    return { ok: false, problems: [`${manifestPath} is missing: this is not a built artifact`] };
  const manifest: ArtifactManifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  const problems: string[] = [];
  const recomputed = digestOf(manifest.files);
  if (recomputed !== manifest.digest)
    problems.push(`the manifest was edited: its file list hashes to ${recomputed}, not its digest ${manifest.digest}`);
  if (expectedDigest !== undefined && manifest.digest !== expectedDigest) {
    problems.push(`digest ${manifest.digest} is not the digest the build published (${expectedDigest})`);
  }
  const present = new Set(artifactFiles(dir));
  for (const [rel, sha] of Object.entries(manifest.files)) {
    if (!present.has(rel)) problems.push(`missing: ${rel}`);
    else {
      const actual = sha256File(join(dir, rel));
      if (actual !== sha) problems.push(`modified: ${rel} (sha256 ${actual}, manifest ${sha})`);
    }
  }
  for (const rel of present) if (!(rel in manifest.files)) problems.push(`unexpected: ${rel} is not in the manifest`);
  return { ok: problems.length === 0, digest: manifest.digest, problems };
}
