/**
 * The deployable artifact: a synth output (stack JSON + asset bundles) plus its hash manifest.
 *
 *   npm run artifact -- create [dir]                  # write <dir>/artifact-manifest.json, print the digest
 *   npm run artifact -- verify [dir] [--digest <hex>] # exit 1 on any missing, modified or extra file
 *
 * `dir` defaults to cdktf.out. `create` fails when a bundle differs between environments.
 */
import { join, resolve } from "node:path";
import { MANIFEST_FILE, verifyManifest, writeManifest } from "./lib/manifest";
import { ROOT } from "./lib/terraform";

function usage(): never {
  console.error("usage: npm run artifact -- create [dir]\n       npm run artifact -- verify [dir] [--digest <sha256>]");
  process.exit(2);
}

function main(argv: string[]): number {
  const [command, ...rest] = argv;
  const digestAt = rest.indexOf("--digest");
  const expected = digestAt >= 0 ? rest[digestAt + 1] : undefined;
  if (digestAt >= 0 && !expected) usage();
  const positional = digestAt >= 0 ? rest.filter((_, i) => i !== digestAt && i !== digestAt + 1) : rest;
  const dir = resolve(positional[0] ?? join(ROOT, "cdktf.out"));

  if (command === "create") {
    const manifest = writeManifest(dir);
    console.error(
      `wrote ${join(dir, MANIFEST_FILE)}: ${Object.keys(manifest.files).length} files, ` +
        `${Object.keys(manifest.stacks).length} stacks, ${manifest.bundles.length} bundle references`,
    );
    console.log(manifest.digest); // stdout carries only the digest, for `$(...)` in CI
    return 0;
  }
  if (command === "verify") {
    const result = verifyManifest(dir, expected);
    if (result.ok) {
      console.log(`artifact verified: ${dir} matches digest ${result.digest}`);
      return 0;
    }
    console.error(`artifact verification FAILED for ${dir}:\n  - ${result.problems.join("\n  - ")}`);
    return 1;
  }
  usage();
}

try {
  process.exit(main(process.argv.slice(2)));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
