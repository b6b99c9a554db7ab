/**
 * The benchmark's pure side (bench/): medians, targets, the table, command-line parsing, the performance page's
 * block and the parsers the sections rely on. Nothing here times anything: `npm run bench` does.
 */
import { deflateRawSync } from "node:zlib";
import { figure, formatBytes, median, meets, renderMarkdown, renderTable } from "../../bench/lib/figures";
import { parseArgs, withFiguresBlock } from "../../bench/run";
import { type IncrementalFigures, incrementalFigures } from "../../bench/sections/incremental";
import { unzip } from "../../bench/sections/lambda";
import { type LayoutFigures, layoutFigures } from "../../bench/sections/layout";
import { jestCounts } from "../../bench/sections/tests";
import { deterministicZip } from "../../modules/shared/zip";

describe("figures", () => {
  it("a figure is the median of its samples, against the median of its yardstick's", () => {
    const f = figure({
      section: "s",
      name: "x",
      unit: "s",
      samples: [3, 1, 2],
      yardstick: { name: "y", samples: [2, 1, 1, 9] },
      target: { maxRatio: 1.5 },
    });
    expect(f.value).toBe(2);
    expect(f.yardstick?.value).toBe(1.5);
    expect(f.ratio).toBeCloseTo(4 / 3);
    expect(f.met).toBe(true);
  });

  it("a ratio above the target, or a strict target reached exactly, is missed", () => {
    expect(
      figure({
        section: "s",
        name: "x",
        unit: "s",
        samples: [4],
        yardstick: { name: "y", samples: [2] },
        target: { maxRatio: 1.5 },
      }).met,
    ).toBe(false);
    expect(meets({ maxRatio: 2, strict: true }, 2, 2)).toBe(false);
    expect(meets({ maxRatio: 2 }, 2, 2)).toBe(true);
    expect(meets({ max: 60, strict: true }, 59.9, undefined)).toBe(true);
    expect(meets({ maxRatio: 1 }, 5, undefined)).toBe(false); // no yardstick, no ratio: not met
  });

  it("refuses a median of nothing or of failed measurements", () => {
    expect(() => median([])).toThrow("median of no values");
    expect(() => median([1, Number.NaN])).toThrow("non-finite");
  });

  it("the table and its Markdown twin show every figure with yardstick, ratio, target and verdict", () => {
    const figures = [
      figure({
        section: "glue",
        name: "job: wall",
        unit: "s",
        samples: [12],
        yardstick: { name: "floor", samples: [4] },
        target: { maxRatio: 1.5, strict: true },
      }),
      figure({
        section: "layout",
        name: "size",
        unit: "bytes",
        samples: [1024],
        yardstick: { name: "raw", samples: [2048] },
        target: { maxRatio: 0.25 },
      }),
    ];
    const table = renderTable(figures, { glue: "Glue", layout: "Layout" });
    expect(table).toContain("[Glue]");
    expect(table).toMatch(/job: wall\s+12\.0 s\s+floor\s+4\.00 s\s+3\.00×\s+< 1\.5×\s+MISSED/);
    expect(table).toMatch(/size\s+1\.00 KB\s+raw\s+2\.00 KB\s+0\.50×\s+≤ 0\.25×\s+MISSED/);
    const md = renderMarkdown(figures, { glue: "Glue", layout: "Layout" });
    expect(md).toContain("| **Glue** |");
    expect(md).toContain("| job: wall | 12.0 s | floor | 4.00 s | 3.00× | < 1.5× | **missed** |");
  });

  it("formats bytes in binary units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.50 KB");
    expect(formatBytes(3.29 * 2 ** 30)).toBe("3.29 GB");
  });
});

describe("command line", () => {
  it("takes sections, runs and sizes, and refuses what it does not know", () => {
    const cli = parseArgs(["--only", "glue,synth", "--runs=5", "--full-suite-runs", "0"]);
    expect(cli.only).toEqual(["synth", "glue"]); // in the bench's own order
    expect(cli.runs).toBe(5);
    expect(cli.fullSuiteRuns).toBe(0);
    expect(() => parseArgs(["--only", "nope"])).toThrow(
      "--only takes sections among synth, tests, terraform, lambda, glue, incremental, layout (got nope)",
    );
    expect(() => parseArgs(["--runs", "0"])).toThrow("--runs needs an integer ≥ 1 (got 0)");
    expect(() => parseArgs(["--fast"])).toThrow("unknown option --fast");
    expect(parseArgs(["--json", "/tmp/figures.json"]).json).toBe("/tmp/figures.json");
  });
});

describe("the performance page's figures block", () => {
  it("replaces only what lies between the markers", () => {
    const page = "# T\n\n<!-- bench:start -->\nold\n<!-- bench:end -->\n\nrest\n";
    expect(withFiguresBlock(page, "new")).toBe("# T\n\n<!-- bench:start -->\nnew\n<!-- bench:end -->\n\nrest\n");
    expect(() => withFiguresBlock("# T\n", "new")).toThrow(
      "docs/performance.md has no <!-- bench:start --> … <!-- bench:end --> block",
    );
  });
});

describe("parsers the sections rely on", () => {
  it("jest counts add up over the unit and integration runs of npm test", () => {
    const out =
      "Test Suites: 27 passed, 27 total\nTests:       857 passed, 857 total\n…\nTest Suites: 1 failed, 10 passed, 11 total\nTests:       1 failed, 85 passed, 86 total\n";
    expect(jestCounts(out)).toEqual({ suites: 38, tests: 943 });
    expect(jestCounts("no summary")).toEqual({ suites: undefined, tests: undefined });
  });

  it("unzips what the project's deterministic zip writes", () => {
    const files = [
      { name: "chunks/a.mjs", data: Buffer.from("x".repeat(1000)) },
      { name: "index.mjs", data: Buffer.from("export const handler = async () => ({});\n") },
    ];
    expect(unzip(deterministicZip(files)).map((e) => [e.name, e.data.toString()])).toEqual(
      files.map((f) => [f.name, f.data.toString()]),
    );
    expect(() => unzip(deflateRawSync(Buffer.from("not a zip")))).toThrow("not a zip archive");
  });

  it("layout figures hold the consumer's one-day read to 2 % of the raw read and every zone to one file per partition", () => {
    const zone = (bytes: number, max: number) => ({
      files: 10,
      bytes,
      partitions: 10,
      filesPerPartitionMax: max,
      filesPerPartitionMean: 1,
      meanFileBytes: bytes / 10,
    });
    const query = (read: number) => ({
      bytesRead: [read, read, read],
      seconds: [0.1],
      dayFiles: 3,
      dayFileBytes: read,
    });
    const l: LayoutFigures = {
      records: 9000,
      days: 9,
      environment: "prod",
      partitionKeys: ["dt", "region"],
      consumerTable: "orders_daily",
      consumerKind: "aggregate",
      queryDay: "2024-03-05",
      zones: { raw: { ...zone(1000, 2), uncompressedBytes: 8000 }, processed: zone(1200, 1), consumer: zone(50, 2) },
      queries: { raw: query(100_000), processed: query(20_000), consumer: query(3_000) },
      targets: { queryBytesRatio: 0.02, sizeRatio: 0.25 },
    };
    const byName = Object.fromEntries(layoutFigures(l).map((f) => [f.name, f]));
    expect(byName["one-day query, consumer (orders_daily, aggregate): bytes read"]).toMatchObject({
      ratio: 0.03,
      met: false,
    });
    expect(byName["size, processed (row-level Parquet)"]).toMatchObject({ ratio: 0.15, met: true });
    expect(byName["size, processed, vs the gzip it landed as"]).toMatchObject({ ratio: 1.2, met: false });
    expect(byName["consumer: files per partition (max)"]).toMatchObject({ value: 2, met: false });
    expect(byName["processed: files per partition (max)"]).toMatchObject({ value: 1, met: true });
  });
});

describe("incremental bench figures", () => {
  const counts = (objects: number, bytes: number, partitions: number, seconds: number) => ({
    objects,
    bytes,
    partitions,
    seconds,
    objectsByZone: {},
  });
  const input = (at90: number): IncrementalFigures => ({
    recordsPerDay: 1000,
    environment: "prod",
    histories: [1, 30, 90],
    incremental: { "1": counts(10, 1000, 6, 8), "30": counts(10, 1010, 6, 8.5), "90": counts(at90, 1020, 6, 9) },
    wholePrefix: {
      "1": counts(20, 2000, 12, 10),
      "30": counts(200, 30000, 180, 30),
      "90": counts(600, 90000, 540, 70),
    },
  });

  it("compares the longest history with the shortest, and wall time with the whole-prefix run", () => {
    const figures = incrementalFigures(input(11));
    expect(figures.map((f) => [f.name, f.value, f.yardstick?.value, f.ratio, f.met])).toEqual([
      ["objects opened, 90-day history", 11, 10, 1.1, true],
      ["bytes read, 90-day history", 1020, 1000, 1.02, true],
      ["partitions rewritten, 90-day history", 6, 6, 1, true],
      ["wall, 1-day history", 8, 10, 0.8, undefined],
      ["wall, 30-day history", 8.5, 30, 8.5 / 30, undefined],
      ["wall, 90-day history", 9, 70, 9 / 70, undefined],
    ]);
    expect(figures[0].note).toContain("whole-prefix run on the same data: 600");
  });

  it("fails the target when the cost grows with history", () => {
    expect(incrementalFigures(input(13))[0].met).toBe(false);
  });

  it("needs figures for the shortest and longest history", () => {
    const partial = { ...input(10), incremental: { "1": counts(1, 1, 1, 1) } };
    expect(() => incrementalFigures(partial)).toThrow("incremental bench: no figures for 90 days of history");
  });
});
