#!/usr/bin/env node
/**
 * Starts the cdktf app without a type-checking compile: esbuild transpiles main.ts and our own
 * modules into one file (packages stay external, so provider classes load by deep path from
 * node_modules), then the result runs in this same process. Type checking is `npm run typecheck`.
 *
 * Two things keep it fast (measured by `npm run bench -- --only synth`):
 *  - The transpiled file is reused while nothing it was built from changed: `.build/<entry>.inputs.json`
 *    records the sha256 of every source esbuild read and the file names of their folders (a new
 *    file could change what an import resolves to). Checking takes a few milliseconds; esbuild
 *    is not even loaded then.
 *  - cdktf records a full stack trace for every token it creates, only to print it if that token
 *    ever fails to resolve: about a fifth of the synth time. Those traces (captured onto plain
 *    objects, never onto Errors) are not formatted here; errors keep their stack traces. Set
 *    SYNTH_TOKEN_TRACES=1 to get the token traces back when debugging a resolution error.
 *    The synthesized files are byte-identical either way.
 *
 * A configuration or dataset-contract error prints its message (environment or dataset, field,
 * rule) and exits 1, without a stack trace.
 *
 * SYNTH_RUNTIME_REPORT=<file> (off by default; the synth output is the same either way) writes, after
 * synth, what this process ran on: Node's version, where `cdktf` resolves, and the name and version
 * of every package it loaded. The CDK Terrain check reads it from the synth process itself, so a
 * stray real cdktf cannot pass for cdktn.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
// An alternative entry point may be given (tests use it to start a deliberately broken app).
const entry = resolve(process.argv[2] ?? join(root, "main.ts"));
const outfile = join(root, ".build", `${basename(entry, ".ts")}.js`);
const inputsFile = `${outfile}.inputs.json`;
const BUILD_OPTIONS = {
  bundle: true,
  packages: "external",
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: "inline",
};

/** The package a loaded file belongs to: its folder under node_modules and its package.json name and version. */
function packageOf(file) {
  const dir = /^(.*[\\/]node_modules[\\/](?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/.exec(file)?.[1];
  if (!dir) return undefined;
  const { name, version } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  return { dir: relative(root, dir), name, version };
}

/** Node's version, where `cdktf` resolves, and every package loaded so far (nested copies too). */
function runtimeReport() {
  const packages = new Map();
  for (const file of Object.keys(require.cache)) {
    const found = packageOf(file);
    if (found) packages.set(found.dir, found);
  }
  const resolved = realpathSync(require.resolve("cdktf"));
  return {
    node: process.version,
    cdktf: { resolved: relative(root, resolved), ...packageOf(resolved) },
    packages: [...packages.values()].sort((a, b) => a.dir.localeCompare(b.dir)),
  };
}

const sha256 = (data) => createHash("sha256").update(data).digest("hex");
const listing = (dir) => (existsSync(dir) ? readdirSync(dir).sort().join("\n") : "");

/** What the transpiled file depends on besides its inputs' contents. */
function buildKey() {
  const esbuildVersion = JSON.parse(readFileSync(require.resolve("esbuild/package.json"), "utf8")).version;
  return sha256(JSON.stringify({ v: 1, esbuildVersion, BUILD_OPTIONS, entry: relative(root, entry) }));
}

function isFresh(key) {
  if (!existsSync(outfile) || !existsSync(inputsFile)) return false;
  const recorded = JSON.parse(readFileSync(inputsFile, "utf8"));
  return (
    recorded.key === key &&
    Object.entries(recorded.inputs).every(
      ([file, hash]) => existsSync(join(root, file)) && sha256(readFileSync(join(root, file))) === hash,
    ) &&
    Object.entries(recorded.folders).every(([dir, names]) => listing(join(root, dir)) === names)
  );
}

/** Written under a name of its own, then renamed: synths running at once (test lanes) never load a half-written file. */
function writeAtomic(file, data) {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, data);
  renameSync(temp, file);
}

function transpile(key) {
  const { buildSync } = require("esbuild");
  const result = buildSync({
    ...BUILD_OPTIONS,
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    write: false,
    metafile: true,
    logLevel: "warning",
  });
  const inputs = Object.keys(result.metafile.inputs).sort();
  const folders = [...new Set(inputs.map((file) => dirname(file)))].sort();
  mkdirSync(dirname(inputsFile), { recursive: true });
  writeAtomic(outfile, result.outputFiles.find((f) => f.path === outfile).contents);
  writeAtomic(
    inputsFile,
    `${JSON.stringify(
      {
        key,
        inputs: Object.fromEntries(inputs.map((file) => [file, sha256(readFileSync(join(root, file)))])),
        folders: Object.fromEntries(folders.map((dir) => [dir, listing(join(root, dir))])),
      },
      null,
      2,
    )}\n`,
  );
}

const key = buildKey();
if (!isFresh(key)) transpile(key);

if (process.env.SYNTH_TOKEN_TRACES !== "1") {
  // V8's own format for Errors; nothing for the plain objects cdktf and constructs capture traces on.
  Error.prepareStackTrace = (error, frames) =>
    error instanceof Error ? [String(error), ...frames.map((f) => `    at ${f}`)].join("\n") : "";
}

try {
  require(outfile);
  if (process.env.SYNTH_RUNTIME_REPORT)
    writeFileSync(process.env.SYNTH_RUNTIME_REPORT, `${JSON.stringify(runtimeReport(), null, 2)}\n`);
} catch (error) {
  if (error?.name === "ConfigError" || error?.name === "ContractError") {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
