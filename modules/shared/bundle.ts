/**
 * Lambda bundles and other deploy artifacts, built deterministically at synth time and cached.
 *
 * `bundleFunction("api-ingest")` bundles `functions/api-ingest/index.ts` with esbuild (minified,
 * external sourcemaps, Node 20 syntax, ES modules) and zips `index.mjs`, the chunks it loads and
 * their maps with `deterministicZip`. esbuild follows imports only, so the zip holds exactly the SDK
 * clients the handler imports, no more. Code splitting keeps cold starts cheap: a module the
 * handler loads with `await import(...)` at its first invocation (e.g. the AWS SDK) is a chunk of
 * its own, neither parsed nor run at init. Paths in the bundle and maps are relative to the
 * repository and chunk names are content hashes, so the bytes do not depend on where it is
 * checked out.
 *
 * Synth stays fast: a manifest next to the zip (`.build/functions/<name>/bundle.json`) records the
 * sha256 of every input file esbuild read, esbuild's version and the build options. When all of
 * them still match, the zip is reused without running esbuild; within one process (four stacks)
 * the result is memoized.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { deterministicZip, type ZipEntry } from "./zip";

/** The repository root: the nearest directory above this file with cdktf.json (this file also runs bundled into .build/). */
export const ROOT = findRoot(__dirname);

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "cdktf.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no cdktf.json above ${start}`);
  }
}

export interface Artifact {
  /** Absolute path of the zip (what a TerraformAsset copies). */
  readonly path: string;
  /** sha256 of the zip, hex. */
  readonly sha256: string;
  /** sha256 of the zip, base64: Lambda's `source_code_hash`. */
  readonly base64Sha256: string;
  readonly bytes: number;
  /** Input files (repository-relative), for tests and the cache. */
  readonly inputs: readonly string[];
  /** True when this call reused the cached zip instead of building. */
  readonly cached: boolean;
}

/** The esbuild options of every function bundle (part of the cache key). */
export const FUNCTION_BUILD_OPTIONS = {
  bundle: true,
  minify: true,
  sourcemap: "linked",
  platform: "node",
  target: "node20",
  // ES modules, because only they can be split: what the handler imports dynamically loads later.
  format: "esm",
  splitting: true,
  entryNames: "[name]",
  chunkNames: "[name]-[hash]",
  outExtension: { ".js": ".mjs" },
  // The CommonJS packages in the bundle (the SDK's dist-cjs) require Node built-ins; an ES module
  // has no `require` of its own, so every output file gets one.
  banner: {
    js: 'import{createRequire as __createRequire}from"node:module";const require=__createRequire(import.meta.url);',
  },
  legalComments: "eof",
  // File and line mapping without a second copy of every source: a quarter of the size.
  sourcesContent: false,
  charset: "utf8",
  // The ES-module builds of the SDK and Powertools ("module"): they tree-shake and split, so the
  // SDK chunk is a third of the CommonJS build's size and credential providers Lambda never uses
  // (SSO, INI files) stay in chunks that are never loaded. A package without one falls back to "main".
  mainFields: ["module", "main"],
} as const;

const CACHE_VERSION = 1;
const memo = new Map<string, Artifact>();

/**
 * Where synth keeps its function bundles and zipped artifacts: `.build/`, or `SYNTH_BUILD_DIR` for a
 * run that must build from scratch without touching the cache other processes read (a test, a CI job).
 */
const buildRoot = () => process.env.SYNTH_BUILD_DIR ?? join(ROOT, ".build");

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/** Bundles and zips `functions/<name>/index.ts`, or reuses the cached zip when nothing it read changed. */
export function bundleFunction(
  name: string,
  options: { readonly force?: boolean; readonly buildDir?: string } = {},
): Artifact {
  const outDir = join(options.buildDir ?? join(buildRoot(), "functions"), name);
  const key = `${outDir}`;
  const memoized = options.force ? undefined : memo.get(key);
  if (memoized) return { ...memoized, cached: true };

  const entry = join("functions", name, "index.ts");
  if (!existsSync(join(ROOT, entry))) throw new Error(`function ${name}: ${entry} does not exist`);
  // Loaded lazily: only synth needs esbuild, and only when a cached zip is stale.
  const esbuildVersion: string = require("esbuild/package.json").version;
  const optionsKey = sha256(JSON.stringify({ CACHE_VERSION, esbuildVersion, FUNCTION_BUILD_OPTIONS, entry }));
  const zipPath = join(outDir, `${name}.zip`);
  const manifestPath = join(outDir, "bundle.json");

  if (!options.force) {
    const cached = readCached(zipPath, manifestPath, optionsKey);
    if (cached) {
      memo.set(key, cached);
      return cached;
    }
  }

  const esbuild = require("esbuild") as typeof import("esbuild");
  // Nothing is written by esbuild; the output path only anchors the sourcemap's relative paths, so
  // it is the same wherever the zip goes (and the bytes never depend on the build directory).
  const anchor = join(ROOT, ".build", "functions", name);
  const result = esbuild.buildSync({
    ...FUNCTION_BUILD_OPTIONS,
    mainFields: [...FUNCTION_BUILD_OPTIONS.mainFields],
    absWorkingDir: ROOT,
    entryPoints: [entry],
    outdir: anchor,
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  if (result.errors.length)
    throw new Error(`function ${name}: esbuild failed:\n${result.errors.map((e) => e.text).join("\n")}`);
  const entries: ZipEntry[] = result.outputFiles.map((f) => ({
    name: f.path.slice(anchor.length + 1),
    data: Buffer.from(f.contents),
  }));
  const zip = deterministicZip(entries);
  const inputs = Object.keys(result.metafile.inputs).sort();
  mkdirSync(outDir, { recursive: true });
  writeAtomic(zipPath, zip);
  const manifest: Manifest = {
    optionsKey,
    zipSha256: sha256(zip),
    inputs: Object.fromEntries(inputs.map((file) => [file, sha256(readFileSync(join(ROOT, file)))])),
  };
  writeAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  const artifact = describe(zipPath, zip, inputs, false);
  memo.set(key, artifact);
  return artifact;
}

/** Zips files of the repository (e.g. a Python package) deterministically under `.build/artifacts/`. */
export function zipFiles(
  name: string,
  files: readonly { readonly path: string; readonly name: string }[],
  normalizeLineEndings = true,
): Artifact {
  const entries = files.map((f) => {
    const data = readFileSync(join(ROOT, f.path));
    return {
      name: f.name,
      data: normalizeLineEndings ? Buffer.from(data.toString("latin1").replace(/\r\n/g, "\n"), "latin1") : data,
    };
  });
  const zip = deterministicZip(entries);
  const outDir = join(buildRoot(), "artifacts");
  const zipPath = join(outDir, name);
  mkdirSync(outDir, { recursive: true });
  // Written only when changed: several stacks and test runs share the file.
  if (!existsSync(zipPath) || sha256(readFileSync(zipPath)) !== sha256(zip)) writeAtomic(zipPath, zip);
  return describe(
    zipPath,
    zip,
    files.map((f) => f.path),
    false,
  );
}

/** The cached zip when its manifest says nothing it read changed; undefined when stale, missing or removed while being read. */
function readCached(zipPath: string, manifestPath: string, optionsKey: string): Artifact | undefined {
  try {
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest;
    const fresh =
      manifest.optionsKey === optionsKey &&
      Object.entries(manifest.inputs).every(
        ([file, hash]) => existsSync(join(ROOT, file)) && sha256(readFileSync(join(ROOT, file))) === hash,
      );
    if (!fresh) return undefined;
    const zip = readFileSync(zipPath);
    return sha256(zip) === manifest.zipSha256 ? describe(zipPath, zip, Object.keys(manifest.inputs), true) : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Written under a name of its own, then renamed: synths running at once (the test lanes) never read a half-written file. */
function writeAtomic(path: string, data: Buffer | string): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, data);
  renameSync(temp, path);
}

interface Manifest {
  readonly optionsKey: string;
  readonly zipSha256: string;
  readonly inputs: Record<string, string>;
}

function describe(path: string, zip: Buffer, inputs: readonly string[], cached: boolean): Artifact {
  const digest = createHash("sha256").update(zip);
  const hex = digest.copy().digest("hex");
  return { path, sha256: hex, base64Sha256: digest.digest("base64"), bytes: zip.length, inputs, cached };
}
