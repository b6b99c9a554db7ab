import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { compareAssets } from "../../scripts/lib/assets";
import { buildManifest } from "../../scripts/lib/manifest";
import { readStacks } from "../../scripts/lib/stacks";
import { ROOT, synth } from "../../scripts/lib/terraform";

function treeHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const entry of readdirSync(d).sort()) {
      const path = join(d, entry);
      if (statSync(path).isDirectory()) walk(path);
      else out[relative(dir, path)] = createHash("sha256").update(readFileSync(path)).digest("hex");
    }
  };
  walk(dir);
  return out;
}

describe("synth through the app entry point", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  const fresh = () => {
    const dir = mkdtempSync(join(tmpdir(), "synth-"));
    dirs.push(dir);
    return dir;
  };

  it("`cdktf synth` (the README's path) writes one stack per environment, byte-identical across runs and entry points, with assets identical across environments", () => {
    const viaCli = [fresh(), fresh()].map((dir) => {
      const result = spawnSync(join(ROOT, "node_modules", ".bin", "cdktf"), ["synth", "--output", dir], {
        cwd: ROOT,
        env: { ...process.env, CHECKPOINT_DISABLE: "1", CI: "1" },
        encoding: "utf8",
      });
      expect(result.status).toBe(0);
      return dir;
    });
    const direct = fresh();
    synth(direct);
    expect(readdirSync(join(viaCli[0], "stacks")).sort()).toEqual(["dev", "local", "prod", "staging"]);
    const first = treeHashes(viaCli[0]);
    expect(Object.keys(first)).toContain("stacks/prod/cdk.tf.json");
    expect(treeHashes(viaCli[1])).toEqual(first);
    expect(treeHashes(direct)).toEqual(first);

    // So one artifact can be promoted: the same manifest digest from every synth, and every asset a
    // stack references (Lambda zips, Glue scripts, ...) byte-identical in every environment using it.
    const digests = [...viaCli, direct].map((dir) => buildManifest(dir).digest);
    expect(new Set(digests).size).toBe(1);
    for (const dir of [...viaCli, direct]) expect(compareAssets(readStacks(dir)).problems).toEqual([]);
    const manifest = buildManifest(direct);
    expect(Object.keys(manifest.stacks)).toEqual(["dev", "local", "prod", "staging"]);
    const referenced = compareAssets(readStacks(direct)).assets.map((a) => a.path);
    const bundled = Object.keys(manifest.files)
      .filter((f) => /^stacks\/[^/]+\/assets\//.test(f))
      .map((f) => f.replace(/^stacks\/[^/]+\//, ""));
    expect([...new Set(bundled)].sort()).toEqual([...new Set(referenced)].sort()); // no unreferenced asset ships
  });

  it("ships one api-ingest zip: the same hash in all four environments and across two synths, matching the function's source_code_hash", () => {
    // Two synths: the second builds into an empty build directory of its own, so it rebuilds the
    // bundle without removing the cache that synths running beside this test read.
    const rebuilt = fresh();
    const runs = [fresh(), fresh()].map((dir, i) => {
      synth(dir, i === 1 ? { SYNTH_BUILD_DIR: rebuilt } : {});
      return readStacks(dir).map((stack) => {
        const functions = Object.values(stack.json.resource?.aws_lambda_function ?? {}) as {
          filename: string;
          source_code_hash: string;
          function_name: string;
        }[];
        expect(functions.map((f) => f.function_name)).toEqual([`dataplat-${stack.name}-ingest-shipments`]);
        const zip = readFileSync(join(stack.dir, functions[0].filename));
        const sha256 = createHash("sha256").update(zip);
        return {
          env: stack.name,
          path: functions[0].filename,
          sha256: sha256.copy().digest("hex"),
          sourceCodeHash: functions[0].source_code_hash,
          base64: sha256.digest("base64"),
        };
      });
    });
    for (const run of runs) {
      expect(run.map((r) => r.env).sort()).toEqual(["dev", "local", "prod", "staging"]);
      for (const r of run) expect(r.sourceCodeHash).toBe(r.base64);
    }
    expect(statSync(join(rebuilt, "functions", "api-ingest", "api-ingest.zip")).size).toBeGreaterThan(0);
    const hashes = new Set(runs.flat().map((r) => r.sha256));
    expect(hashes.size).toBe(1);
    expect(new Set(runs.flat().map((r) => r.path)).size).toBe(1);
    expect(runs.flat()[0].path).toMatch(
      new RegExp(`^assets/ingestion_api-ingest-bundle_[0-9A-F]{8}/${[...hashes][0]}/api-ingest\\.zip$`),
    );
  });

  it("stops on a bad config with one message naming env, field and rule, and no stack trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "synth-bad-"));
    dirs.push(dir);
    const result = spawnSync(
      process.execPath,
      [join(ROOT, "scripts", "synth-app.mjs"), join(ROOT, "__tests__", "fixtures", "bad-config-app.ts")],
      {
        cwd: ROOT,
        env: { ...process.env, CDKTF_OUTDIR: dir },
        encoding: "utf8",
      },
    );
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      [
        "Invalid environment configuration (3 problems):",
        '  - dev: region: must be a known AWS region (got "mars-north-1")',
        "  - dev: partitioning.keys: must list at least one partition key (got [])",
        "  - prod: protection.forceDestroy: must be false in prod: production data is never force-deleted",
      ].join("\n"),
    );
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("stops on a dataset whose explicit engine breaks the decision rules, naming dataset, field and rule, with no stack trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "synth-bad-dataset-"));
    dirs.push(dir);
    const result = spawnSync(
      process.execPath,
      [join(ROOT, "scripts", "synth-app.mjs"), join(ROOT, "__tests__", "fixtures", "bad-dataset-app.ts")],
      {
        cwd: ROOT,
        env: { ...process.env, CDKTF_OUTDIR: dir },
        encoding: "utf8",
      },
    );
    expect(result.stderr.trim()).toBe(
      "Invalid dataset contract parcels (1 problem):\n" +
        '  - parcels: ingestion.engine: "glue" breaks the rule "under 15 minutes and under 1 GB → lambda" (declared volumeMb 20, durationMinutes 2, latency "batch")',
    );
    expect(result.status).toBe(1);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("writes byte-identical stacks whether or not cdktf's token stack traces are formatted (SYNTH_TOKEN_TRACES=1)", () => {
    const [without, withTraces] = [fresh(), fresh()];
    synth(without);
    synth(withTraces, { SYNTH_TOKEN_TRACES: "1" });
    expect(treeHashes(withTraces)).toEqual(treeHashes(without));
  });

  it("an error inside the app keeps its stack trace (only cdktf's token traces are skipped)", () => {
    const dir = fresh();
    writeFileSync(
      join(dir, "crash-app.ts"),
      'function deepInTheApp(): never {\n  throw new TypeError("boom");\n}\ndeepInTheApp();\n',
    );
    const result = spawnSync(process.execPath, [join(ROOT, "scripts", "synth-app.mjs"), join(dir, "crash-app.ts")], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/TypeError: boom\n\s+at deepInTheApp \(/);
  });
});

describe("the synth entry's transpile cache", () => {
  const dir = mkdtempSync(join(tmpdir(), "synth-cache-"));
  const entry = join(dir, `cache-probe-${process.pid}.ts`);
  const outfile = join(ROOT, ".build", `cache-probe-${process.pid}.js`);
  afterAll(() => [dir, outfile, `${outfile}.inputs.json`].forEach((p) => rmSync(p, { recursive: true, force: true })));
  const run = () => {
    const result = spawnSync(process.execPath, [join(ROOT, "scripts", "synth-app.mjs"), entry], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: "" });
    return { printed: result.stdout.trim(), built: statSync(outfile).mtimeMs };
  };

  it("reuses the transpiled app while its sources are unchanged, and rebuilds when one changes or a new file changes what an import resolves to", () => {
    mkdirSync(join(dir, "lib"));
    writeFileSync(join(dir, "lib", "index.ts"), 'export const value: string = "lib/index";\n');
    writeFileSync(entry, 'import { value } from "./lib";\nconsole.log(value);\n');
    const first = run();
    expect(first.printed).toBe("lib/index");
    const recorded = JSON.parse(readFileSync(`${outfile}.inputs.json`, "utf8"));
    expect(
      Object.keys(recorded.inputs)
        .map((f) => f.split("/").slice(-2).join("/"))
        .sort(),
    ).toEqual([`${dir.split("/").pop()}/cache-probe-${process.pid}.ts`, "lib/index.ts"].sort());

    expect(run()).toEqual(first); // unchanged: the same transpiled file, not rewritten

    writeFileSync(join(dir, "lib", "index.ts"), 'export const value: string = "lib/index, edited";\n');
    expect(run().printed).toBe("lib/index, edited");

    // A file that did not exist before now wins the resolution of "./lib".
    writeFileSync(join(dir, "lib.ts"), 'export const value: string = "lib.ts";\n');
    expect(run().printed).toBe("lib.ts");
  });
});
