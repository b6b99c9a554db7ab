/**
 * Function bundles and the Glue package: deterministic zips (same source → same bytes), minified
 * with sourcemaps, holding only the SDK clients the handler imports, and reused from the cache
 * while nothing they were built from changed. (The same zip in every environment and across two
 * synths: __tests__/integration/synth.test.ts.)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateRawSync } from "node:zlib";
import { gluePackage } from "../../modules/ingestion";
import { bundleFunction } from "../../modules/shared/bundle";
import { crc32, deterministicZip } from "../../modules/shared/zip";

/** Entries of a zip, read from its central directory (independently of the writer). */
function readZip(zip: Buffer): { name: string; data: Buffer; time: number; date: number; mode: number; madeBy: number; method: number }[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  let p = zip.readUInt32LE(end + 16);
  const out = [];
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(p + 10);
    const [time, date] = [zip.readUInt16LE(p + 12), zip.readUInt16LE(p + 14)];
    const [size, nameLength, extraLength, commentLength] = [zip.readUInt32LE(p + 20), zip.readUInt16LE(p + 28), zip.readUInt16LE(p + 30), zip.readUInt16LE(p + 32)];
    const mode = zip.readUInt32LE(p + 38) >>> 16;
    const offset = zip.readUInt32LE(p + 42);
    const name = zip.toString("utf8", p + 46, p + 46 + nameLength);
    const dataStart = offset + 30 + zip.readUInt16LE(offset + 26) + zip.readUInt16LE(offset + 28);
    const raw = zip.subarray(dataStart, dataStart + size);
    out.push({ name, data: method === 8 ? inflateRawSync(raw) : Buffer.from(raw), time, date, mode, madeBy: zip.readUInt8(p + 5), method });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return out;
}

describe("deterministicZip", () => {
  it("gives the same bytes for the same entries in any order, with fixed times, modes and no compression", () => {
    const a = deterministicZip([{ name: "b.txt", data: Buffer.from("two") }, { name: "a.txt", data: Buffer.from("one") }]);
    const b = deterministicZip([{ name: "a.txt", data: Buffer.from("one") }, { name: "b.txt", data: Buffer.from("two") }]);
    expect(a.equals(b)).toBe(true);
    const entries = readZip(a);
    expect(entries.map((e) => [e.name, e.data.toString(), e.time, e.date, e.mode.toString(8), e.madeBy, e.method])).toEqual([
      ["a.txt", "one", 0, 0x21, "100644", 3, 0],
      ["b.txt", "two", 0, 0x21, "100644", 3, 0],
    ]);
  });

  it("computes the standard CRC-32", () => {
    expect(crc32(Buffer.from("123456789")).toString(16)).toBe("cbf43926");
  });

  it("refuses a name listed twice", () => {
    expect(() => deterministicZip([{ name: "a", data: Buffer.alloc(0) }, { name: "a", data: Buffer.alloc(1) }])).toThrow('zip entry "a" is listed twice');
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

  it("holds the minified handler and its linked sourcemap, nothing else", () => {
    const entries = readZip(readFileSync(first.path));
    expect(entries.map((e) => e.name)).toEqual(["index.js", "index.js.map"]);
    const code = entries[0].data.toString("utf8");
    expect(code).toMatch(/\/\/# sourceMappingURL=index\.js\.map\s*$/);
    expect(code.split("\n").length).toBeLessThan(200); // minified: a few long lines (plus legal comments)
    const map = JSON.parse(entries[1].data.toString("utf8"));
    expect(map.sources).toContain("../../../functions/api-ingest/ingest.ts");
    // Relative paths only: the bytes do not depend on where the repository is checked out.
    expect(JSON.stringify(map.sources)).not.toContain(process.cwd());
    expect(code).not.toContain(process.cwd());
  });

  it("bundles only the SDK clients the handler imports", () => {
    const clients = [...new Set(first.inputs.map((i) => /node_modules\/@aws-sdk\/(client-[a-z0-9-]+)\//.exec(i)?.[1]).filter((c): c is string => !!c))].sort();
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
      const { bundleFunction: again } = jest.requireActual("../../modules/shared/bundle") as typeof import("../../modules/shared/bundle");
      const reused = again("api-ingest", { buildDir: dir });
      expect({ cached: reused.cached, sha256: reused.sha256 }).toEqual({ cached: true, sha256: built.sha256 });
    });
    // An input whose recorded hash no longer matches (as after an edit) forces a rebuild.
    const manifestPath = join(dir, "api-ingest", "bundle.json");
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    manifest.inputs["functions/api-ingest/ingest.ts"] = "0".repeat(64);
    writeFileSync(manifestPath, JSON.stringify(manifest));
    jest.isolateModules(() => {
      const { bundleFunction: again } = jest.requireActual("../../modules/shared/bundle") as typeof import("../../modules/shared/bundle");
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
