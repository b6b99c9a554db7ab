/**
 * No import cycle between files or folders: the dataset domain (datasets/) sits below the modules
 * that build infrastructure from it, the modules below the stack that wires them, and so on down.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describeCycle, importCycles, importGraph } from "../helpers/import-graph";

const ROOT = join(__dirname, "..", "..");

/**
 * Cycles that are known and owned elsewhere, each with what removes it. The list may only shrink:
 * a new cycle fails the test, and so does a listed one that no longer exists (delete its line).
 */
const KNOWN_CYCLES: Readonly<Record<string, string>> = {
  ".: __tests__ ↔ bench ↔ scripts":
    "the docs generator (scripts/lib/bad-input-docs.ts) reads the bad-input corpora from __tests__/fixtures while the tests import scripts and bench; goes when the corpora live outside __tests__",
};

describe("the import graph", () => {
  const graph = importGraph(ROOT);

  it("reads every project file and resolves its relative imports", () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get("modules/platform-stack.ts")).toContain("datasets/index.ts");
    // a type-only import is an edge too
    expect(graph.get("functions/api-ingest/config.ts")).toContain("datasets/index.ts");
  });

  it("has no cycle between files or folders beyond the known ones", () => {
    const cycles = importCycles(graph);
    // a new cycle, with the file imports that close it
    expect(
      Object.fromEntries(
        cycles.filter((c) => !(describeCycle(c) in KNOWN_CYCLES)).map((c) => [describeCycle(c), c.imports]),
      ),
    ).toEqual({});
    // a known cycle that is gone: delete its line from KNOWN_CYCLES
    expect(Object.keys(KNOWN_CYCLES).filter((known) => !cycles.some((c) => describeCycle(c) === known))).toEqual([]);
  });

  it("datasets/ imports nothing but itself and environments/ (the domain does not know the infrastructure)", () => {
    const outside = [...graph]
      .filter(([file]) => file.startsWith("datasets/"))
      .flatMap(([file, targets]) =>
        [...targets]
          .filter((t) => !t.startsWith("datasets/") && !t.startsWith("environments/"))
          .map((t) => `${file} → ${t}`),
      );
    expect(outside).toEqual([]);
  });
});

describe("the cycle check", () => {
  let dir: string;
  const write = (files: Record<string, string>) => {
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "import-cycles-"));
    write({
      "tsconfig.json": JSON.stringify({ compilerOptions: { module: "commonjs", strict: true }, include: ["**/*.ts"] }),
    });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("finds a cycle between two folders, even through different files and a type-only import", () => {
    write({
      "domain/contract.ts": 'import type { Zone } from "../infra/lake";\nexport type Contract = { zone: Zone };\n',
      "domain/index.ts": 'export * from "./contract";\n',
      "infra/lake.ts": 'export type Zone = "raw";\n',
      "infra/catalog.ts": 'import { Contract } from "../domain";\nexport const c: Contract[] = [];\n',
    });
    expect(importCycles(importGraph(dir)).map(describeCycle)).toEqual([".: domain ↔ infra"]);
  });

  it("finds a cycle between files of one folder, and none in a layered tree", () => {
    write({
      "m/a.ts": 'import { b } from "./b";\nexport const a = b;\n',
      "m/b.ts": 'export const b = 1;\nexport type A = typeof import("./a");\n',
      "m/c.ts": 'import { a } from "./a";\nexport const c = a;\n',
    });
    const cycles = importCycles(importGraph(dir));
    expect(cycles.map(describeCycle)).toEqual(["m: a.ts ↔ b.ts"]);
    expect(cycles[0].imports).toEqual(["m/a.ts → m/b.ts", "m/b.ts → m/a.ts"]);
    rmSync(join(dir, "m", "b.ts"));
    write({ "m/b.ts": "export const b = 1;\n" });
    expect(importCycles(importGraph(dir))).toEqual([]);
  });
});
