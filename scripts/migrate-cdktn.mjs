#!/usr/bin/env node
/**
 * Moves this checkout from cdktf 0.21 to CDK Terrain (cdktn), the maintained community fork, and back.
 * docs/cdktn.md is the guide; __tests__/integration/cdktn.test.ts runs this same command in a
 * scratch copy and proves synth, validate and state carry over.
 *
 *   npm run migrate:cdktn               package.json → the cdktn variant, its committed lock, npm ci
 *   npm run migrate:cdktn -- --revert   the cdktf package.json and lock back exactly, npm ci
 *   npm run migrate:cdktn -- --relock   maintainers: regenerate migration/cdktn/package-lock.json
 *                                       after package.json changed (npm ci refuses a stale one)
 *
 * The app's code does not change: `"cdktf": "npm:cdktn@<version>"` installs cdktn under the name
 * cdktf, so every `import … from "cdktf"` loads cdktn, and `"overrides": {"cdktf": "$cdktf"}` hands
 * that same package to @cdktf/provider-aws (whose peer range names cdktf 0.21; without the override
 * npm fails with ERESOLVE). The CLI is cdktn-cli, whose command is `cdktn`.
 *
 * Files: migration/cdktn/package-lock.json is the committed lock of the cdktn variant (installed with
 * `npm ci`, never a floating install). While migrated, the cdktf package.json and lock are kept
 * byte for byte in migration/cdktf/ (commit them with the change) for --revert.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** What the cdktn variant pins. cdktn 0.24 needs Node >= 22.19 and constructs >= 10.6 < 10.8. */
export const CDKTN = {
  version: "0.24.0",
  cli: "cdktn-cli",
  node: "22.19.0",
};
const ALIAS = `npm:cdktn@${CDKTN.version}`;

const paths = {
  packageJson: join(root, "package.json"),
  lock: join(root, "package-lock.json"),
  cdktnLock: join(root, "migration", "cdktn", "package-lock.json"),
  stash: join(root, "migration", "cdktf"),
};

class MigrationError extends Error {}

const readJson = (file) => JSON.parse(readFileSync(file, "utf8"));
const writeJson = (file, value) => writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);

/** Renames a key of an object in place (keeps the order of the others). */
const renameKey = (obj, from, to, value) =>
  Object.fromEntries(Object.entries(obj).map(([k, v]) => (k === from ? [to, value] : [k, v])));

/** Whether package.json already is the cdktn variant. */
const isMigrated = (pkg) => pkg.dependencies?.cdktf?.startsWith("npm:cdktn@") ?? false;

/** The cdktn variant of a cdktf package.json: alias, override, CLI, Node floor, `cdktf` CLI calls in scripts. */
export function toCdktn(pkg) {
  if (isMigrated(pkg))
    throw new MigrationError("package.json already uses cdktn (dependencies.cdktf is an npm: alias); nothing to do");
  if (!pkg.dependencies?.cdktf) throw new MigrationError("package.json has no dependencies.cdktf to move");
  const cliKey = pkg.devDependencies?.["cdktf-cli"]
    ? "devDependencies"
    : pkg.dependencies?.["cdktf-cli"]
      ? "dependencies"
      : undefined;
  if (!cliKey)
    throw new MigrationError(
      "package.json has no cdktf-cli (dependencies or devDependencies) to replace with cdktn-cli",
    );
  const out = { ...pkg };
  out.engines = { ...pkg.engines, node: `>=${CDKTN.node}` };
  out.dependencies = { ...pkg.dependencies, cdktf: ALIAS };
  out[cliKey] = renameKey(out[cliKey], "cdktf-cli", CDKTN.cli, CDKTN.version);
  // The CLI's command is `cdktn`; it reads the same cdktf.json and writes the same cdktf.out.
  out.scripts = Object.fromEntries(
    Object.entries(pkg.scripts ?? {}).map(([name, cmd]) => [
      name,
      cmd.replace(/(^|[\s;&|(])cdktf(?=\s|$)/g, "$1cdktn"),
    ]),
  );
  out.overrides = { ...pkg.overrides, cdktf: "$cdktf" };
  return out;
}

function run(command, args, cwd) {
  console.log(`› ${command} ${args.join(" ")}`);
  const result = spawnSync(command, args, { cwd, stdio: "inherit" });
  if (result.error) throw result.error;
  return result.status === 0;
}

function requireNode() {
  const [major, minor] = process.versions.node.split(".").map(Number);
  const [wantMajor, wantMinor] = CDKTN.node.split(".").map(Number);
  if (major < wantMajor || (major === wantMajor && minor < wantMinor)) {
    throw new MigrationError(
      `cdktn ${CDKTN.version} needs Node >= ${CDKTN.node}; this is Node ${process.versions.node}. ` +
        "Put Node 22.19 or later on the PATH (e.g. `nvm install 22`, or the official binaries from nodejs.org) and re-run.",
    );
  }
}

function migrate() {
  const pkg = readJson(paths.packageJson);
  const migrated = toCdktn(pkg);
  requireNode();
  if (!existsSync(paths.cdktnLock))
    throw new MigrationError(`${paths.cdktnLock} is missing; run \`npm run migrate:cdktn -- --relock\``);
  if (existsSync(paths.stash))
    throw new MigrationError(`${paths.stash} exists from an earlier migration; remove it or run --revert first`);
  mkdirSync(paths.stash, { recursive: true });
  copyFileSync(paths.packageJson, join(paths.stash, "package.json"));
  copyFileSync(paths.lock, join(paths.stash, "package-lock.json"));
  writeJson(paths.packageJson, migrated);
  copyFileSync(paths.cdktnLock, paths.lock);
  if (!run("npm", ["ci", "--no-audit", "--no-fund"], root)) {
    restore();
    throw new MigrationError(
      "npm ci of the cdktn variant failed (see above); package.json and package-lock.json are back to cdktf, run `npm ci` to reinstall. " +
        "If npm said package.json and package-lock.json are out of sync, migration/cdktn/package-lock.json is stale: " +
        "run `npm run migrate:cdktn -- --relock` and commit it.",
    );
  }
  console.log(
    `moved to cdktn ${CDKTN.version}: \`npm run synth\` now runs \`cdktn synth\`. The cdktf files are kept in migration/cdktf/ for --revert.`,
  );
}

function restore() {
  copyFileSync(join(paths.stash, "package.json"), paths.packageJson);
  copyFileSync(join(paths.stash, "package-lock.json"), paths.lock);
  rmSync(paths.stash, { recursive: true, force: true });
}

function revert() {
  if (!isMigrated(readJson(paths.packageJson)))
    throw new MigrationError("package.json uses cdktf already; nothing to revert");
  if (!existsSync(join(paths.stash, "package.json")) || !existsSync(join(paths.stash, "package-lock.json"))) {
    throw new MigrationError(
      "migration/cdktf/ (the cdktf package.json and lock kept by the migration) is missing; " +
        "restore package.json and package-lock.json from version control instead, then run `npm ci`",
    );
  }
  restore();
  if (!run("npm", ["ci", "--no-audit", "--no-fund"], root))
    throw new MigrationError("npm ci of the cdktf files failed (see above)");
  console.log("back on cdktf: package.json and package-lock.json are the ones from before the migration.");
}

/** Regenerates the cdktn variant's lock from the current (cdktf) package.json, without installing. */
function relock() {
  const pkg = readJson(paths.packageJson);
  if (isMigrated(pkg)) throw new MigrationError("run --relock on the cdktf checkout (package.json is migrated now)");
  const dir = mkdtempSync(join(tmpdir(), "cdktn-lock-"));
  try {
    writeJson(join(dir, "package.json"), toCdktn(pkg));
    // Starting from the cdktf lock keeps every other package at the version the project already runs.
    copyFileSync(paths.lock, join(dir, "package-lock.json"));
    if (!run("npm", ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"], dir))
      throw new MigrationError("npm could not lock the cdktn variant (see above)");
    mkdirSync(dirname(paths.cdktnLock), { recursive: true });
    copyFileSync(join(dir, "package-lock.json"), paths.cdktnLock);
    console.log(`wrote ${paths.cdktnLock}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const known = ["--revert", "--relock"];
  try {
    const unknown = args.filter((a) => !known.includes(a));
    if (unknown.length > 0 || args.length > 1)
      throw new MigrationError(`usage: npm run migrate:cdktn [-- --revert | --relock] (got ${args.join(" ")})`);
    if (args[0] === "--revert") revert();
    else if (args[0] === "--relock") relock();
    else migrate();
  } catch (error) {
    if (!(error instanceof MigrationError)) throw error;
    console.error(`error: ${error.message}`);
    process.exit(1);
  }
}
