/**
 * Function bundles and the Glue package: deterministic zips (same source → same bytes), minified
 * with sourcemaps, holding only the SDK clients the handler imports, and reused from the cache
 * while nothing they were built from changed. (The same zip in every environment and across two
 * synths: __tests__/integration/synth.test.ts.)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gluePackage } from "../../modules/ingestion";
import { bundleFunction } from "../../modules/shared/bundle";
import { crc32, deterministicZip } from "../../modules/shared/zip";
import { readZip } from "../helpers/zip";
import { defined } from "../../modules/shared/defined";

describe("deterministicZip", () => {
  it("gives the same bytes for the same entries in any order, with fixed times, modes and no compression", () => {
    const a = deterministicZip([
      { name: "b.txt", data: Buffer.from("two") },
      { name: "a.txt", data: Buffer.from("one") },
    ]);
    const b = deterministicZip([
      { name: "a.txt", data: Buffer.from("one") },
      { name: "b.txt", data: Buffer.from("two") },
    ]);
    expect(a.equals(b)).toBe(true);
    const entries = readZip(a);
    expect(
      entries.map((e) => [e.name, e.data.toString(), e.time, e.date, e.mode.toString(8), e.madeBy, e.method]),
    ).toEqual([
      ["a.txt", "one", 0, 0x21, "100644", 3, 0],
      ["b.txt", "two", 0, 0x21, "100644", 3, 0],
    ]);
  });

  it("computes the standard CRC-32", () => {
    expect(crc32(Buffer.from("123456789")).toString(16)).toBe("cbf43926");
  });

  it("refuses a name listed twice", () => {
    expect(() =>
      deterministicZip([
        { name: "a", data: Buffer.alloc(0) },
        { name: "a", data: Buffer.alloc(1) },
      ]),
    ).toThrow('zip entry "a" is listed twice');
  });
});

describe("the api-ingest bundle", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const fresh = () => {
    const dir = mkdtempSync(join(tmpdir(), "bundle-"));
    dirs.push(dir);
    return dir;
  };
  const first = bundleFunction("api-ingest", { force: true, buildDir: fresh() });

  it("is byte-identical when built again from the same source, wherever it is built", () => {
    const second = bundleFunction("api-ingest", { force: true, buildDir: fresh() });
    expect(bundleFunction("api-ingest").sha256).toBe(first.sha256); // the default location synth uses
    expect(second.sha256).toBe(first.sha256);
    expect(readFileSync(second.path).equals(readFileSync(first.path))).toBe(true);
    expect(first.base64Sha256).toBe(Buffer.from(first.sha256, "hex").toString("base64"));
  });

  it("holds the minified handler entry, the chunks it loads and their linked sourcemaps, nothing else", () => {
    const entries = readZip(readFileSync(first.path));
    const names = entries.map((e) => e.name);
    const code = names.filter((n) => n.endsWith(".mjs"));
    expect(code).toContain("index.mjs");
    // Every code file has its map, and nothing else is in the zip.
    expect(names).toEqual([...code, ...code.map((n) => `${n}.map`)].sort());
    for (const name of code) {
      const text = defined(
        entries.find((e) => e.name === name),
        `the bundle entry ${name}`,
      ).data.toString("utf8");
      expect(text).toMatch(new RegExp(`//# sourceMappingURL=${name.replace(/\./g, "\\.")}\\.map\\s*$`));
      expect(text.split("\n").length).toBeLessThan(200); // minified: a few long lines (plus legal comments)
      expect(text).not.toContain(process.cwd());
    }
    const map = JSON.parse(
      defined(
        entries.find((e) => e.name === "index.mjs.map"),
        "the bundle entry index.mjs.map",
      ).data.toString("utf8"),
    );
    expect(map.sources).toContain("../../../functions/api-ingest/ingest.ts");
    // Relative paths only: the bytes do not depend on where the repository is checked out.
    expect(JSON.stringify(map.sources)).not.toContain(process.cwd());
  });

  it("keeps the AWS SDK and Powertools out of the entry: they are chunks the handler imports at its first invocation", () => {
    const entries = readZip(readFileSync(first.path));
    const index = defined(
      entries.find((e) => e.name === "index.mjs"),
      "the bundle entry index.mjs",
    ).data.toString("utf8");
    const indexMap = JSON.parse(
      defined(
        entries.find((e) => e.name === "index.mjs.map"),
        "the bundle entry index.mjs.map",
      ).data.toString("utf8"),
    ) as {
      sources: string[];
    };
    expect(indexMap.sources.filter((s) => s.includes("node_modules"))).toEqual([]);
    // What index.mjs loads at init (static imports) holds no SDK or Powertools code either.
    const staticChunks = [...index.matchAll(/import(?:[^"'()]*?from)?"\.\/([^"]+\.mjs)"/g)].map((m) => m[1]);
    for (const chunk of staticChunks) {
      const map = JSON.parse(
        defined(
          entries.find((e) => e.name === `${chunk}.map`),
          `the bundle entry ${chunk}.map`,
        ).data.toString("utf8"),
      ) as {
        sources: string[];
      };
      expect({ chunk, sources: map.sources.filter((s) => /@aws-sdk|@smithy|@aws-lambda-powertools/.test(s)) }).toEqual({
        chunk,
        sources: [],
      });
    }
    const dynamic = [...index.matchAll(/import\("\.\/([^"]+\.mjs)"\)/g)].map((m) => m[1]);
    const sourcesOf = (chunk: string) =>
      (
        JSON.parse(
          defined(
            entries.find((e) => e.name === `${chunk}.map`),
            `the bundle entry ${chunk}.map`,
          ).data.toString("utf8"),
        ) as { sources: string[] }
      ).sources;
    expect(dynamic.some((c) => sourcesOf(c).some((s) => s.includes("@aws-sdk/client-s3/")))).toBe(true);
    expect(dynamic.some((c) => sourcesOf(c).some((s) => s.includes("@aws-lambda-powertools/logger/")))).toBe(true);
  });

  it("bundles only the SDK clients the handler imports", () => {
    const clients = [
      ...new Set(
        first.inputs
          .map((i) => /node_modules\/@aws-sdk\/(client-[a-z0-9-]+)\//.exec(i)?.[1])
          .filter((c): c is string => !!c),
      ),
    ].sort();
    expect(clients).toEqual(["client-s3", "client-secrets-manager", "client-sqs"]);
    expect(first.inputs).toContain("functions/api-ingest/index.ts");
    expect(first.inputs.some((i) => i.includes("@aws-lambda-powertools/logger"))).toBe(true);
  });

  it("is reused from the cache while its inputs are unchanged, and rebuilt when one changes", () => {
    const dir = fresh();
    const built = bundleFunction("api-ingest", { force: true, buildDir: dir });
    expect(built.cached).toBe(false);
    // A new process (no memo) finds the cache fresh: no esbuild run, the same zip.
    jest.isolateModules(() => {
      const { bundleFunction: again } = jest.requireActual(
        "../../modules/shared/bundle",
      ) as typeof import("../../modules/shared/bundle");
      const reused = again("api-ingest", { buildDir: dir });
      expect({ cached: reused.cached, sha256: reused.sha256 }).toEqual({ cached: true, sha256: built.sha256 });
    });
    // An input whose recorded hash no longer matches (as after an edit) forces a rebuild.
    const manifestPath = join(dir, "api-ingest", "bundle.json");
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    manifest.inputs["functions/api-ingest/ingest.ts"] = "0".repeat(64);
    writeFileSync(manifestPath, JSON.stringify(manifest));
    jest.isolateModules(() => {
      const { bundleFunction: again } = jest.requireActual(
        "../../modules/shared/bundle",
      ) as typeof import("../../modules/shared/bundle");
      const rebuilt = again("api-ingest", { buildDir: dir });
      expect({ cached: rebuilt.cached, sha256: rebuilt.sha256 }).toEqual({ cached: false, sha256: built.sha256 });
    });
  });
});

describe("the dataplat_glue package", () => {
  it("holds every module of glue-jobs/dataplat_glue at its root, deterministically", () => {
    const first = gluePackage();
    const second = gluePackage();
    expect(second.sha256).toBe(first.sha256);
    const names = readZip(readFileSync(first.path)).map((e) => e.name);
    expect(names).toContain("dataplat_glue/__init__.py");
    expect(names).toContain("dataplat_glue/raw_to_processed.py");
    expect(names.every((n) => n.startsWith("dataplat_glue/") && n.endsWith(".py"))).toBe(true);
    expect(names).toEqual([...names].sort());
  });
});
