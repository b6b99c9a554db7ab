#!/usr/bin/env node
/**
 * Starts the cdktf app without a type-checking compile: esbuild transpiles main.ts and our own
 * modules into one file (packages stay external, so provider classes load by deep path from
 * node_modules), then the result runs in this same process. Type checking is `npm run typecheck`.
 *
 * A configuration or dataset-contract error prints its message (environment or dataset, field,
 * rule) and exits 1, without a stack trace.
 */
import { buildSync } from "esbuild";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// An alternative entry point may be given (tests use it to start a deliberately broken app).
const entry = process.argv[2] ?? join(root, "main.ts");
const outfile = join(root, ".build", `${basename(entry, ".ts")}.js`);
buildSync({
  entryPoints: [entry],
  outfile,
  bundle: true,
  packages: "external",
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: "inline",
  logLevel: "warning",
});
try {
  createRequire(import.meta.url)(outfile);
} catch (error) {
  if (error?.name === "ConfigError" || error?.name === "ContractError") {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
