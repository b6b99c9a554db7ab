import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = join(__dirname, "..", "..");
const SKIP = new Set(["node_modules", "cdktf.out", ".build", ".git", ".venv", "coverage"]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    if (SKIP.has(entry) || entry.startsWith(".venv")) return [];
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|mjs|js)$/.test(entry) ? [path] : [];
  });
}

it("imports provider classes by deep path only (the root import costs seconds and hundreds of MB per synth)", () => {
  const offenders = sourceFiles(ROOT)
    .filter((file) =>
      /from\s+["']@cdktf\/provider-aws["']|require\(["']@cdktf\/provider-aws["']\)/.test(readFileSync(file, "utf8")),
    )
    .map((file) => relative(ROOT, file));
  expect(offenders).toEqual([]);
});

it("the deep-import check finds a root import when one exists", () => {
  const rootImport = ["import { s3Bucket } from ", '"@cdktf/', 'provider-aws";'].join("");
  expect(/from\s+["']@cdktf\/provider-aws["']/.test(rootImport)).toBe(true);
});
