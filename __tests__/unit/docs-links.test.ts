/**
 * The docs a newcomer reads hold together: the README stays short and names the commands CI runs,
 * every relative link in a Markdown file of the repository reaches a file it holds (and a heading
 * that exists, for `#anchor` links), and nothing cites a file the repository does not hold or an
 * issue number instead of saying the thing itself.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { ROOT } from "../../scripts/lib/terraform";
import { repositoryFiles } from "../helpers/repository";

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]+>/g, "")
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (!m) continue;
    const base = headingAnchor(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Relative links of a Markdown text, outside code fences and inline code. */
function linksOf(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    if (fenced) continue;
    for (const m of line.replace(/`[^`]*`/g, "").matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1];
      if (!/^[a-z]+:/i.test(target)) out.push(target);
    }
  }
  return out;
}

describe("the README", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");

  it("is at most 300 lines", () => {
    expect(readme.split("\n").length).toBeLessThanOrEqual(300);
  });

  it("gives the two commands, and CI runs exactly its test command", () => {
    expect(readme).toMatch(/^npm ci && npm start\b/m);
    expect(readme).toMatch(/^npm ci && npm test\b/m);
    const ci = readFileSync(join(ROOT, ".ci", "run"), "utf8")
      .split("\n")
      .filter((l) => l.trim() && !l.startsWith("#") && !/^(set|cd) /.test(l));
    expect(ci).toEqual(["npm ci && npm test"]);
  });

  it("links every page under docs/", () => {
    const pages = repositoryFiles().filter((f) => /^docs\/[^/]+\.md$/.test(f));
    expect(pages.length).toBeGreaterThan(0);
    expect(pages.filter((p) => !readme.includes(`](${p}`))).toEqual([]);
  });
});

describe("links and citations", () => {
  const files = repositoryFiles();
  const markdown = files.filter((f) => f.endsWith(".md") && !f.startsWith("node_modules/"));

  it.each(markdown)("%s: every relative link reaches a file and heading the repository holds", (file) => {
    const text = readFileSync(join(ROOT, file), "utf8");
    const broken: string[] = [];
    for (const link of linksOf(text)) {
      const [path, anchor] = link.split("#", 2);
      const target = path ? normalize(join(dirname(file), decodeURI(path))) : file;
      if (target.startsWith("..") || !existsSync(join(ROOT, target))) {
        broken.push(`${link}: no such file`);
        continue;
      }
      if (
        anchor &&
        target.endsWith(".md") &&
        statSync(join(ROOT, target)).isFile() &&
        !anchorsOf(readFileSync(join(ROOT, target), "utf8")).has(anchor)
      ) {
        broken.push(`${link}: ${target} has no heading #${anchor}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("no source or doc cites a design-notes file the repository does not hold, or an issue number", () => {
    const text = files.filter(
      (f) =>
        /\.(md|ts|mjs|js|py|sh|ya?ml)$/.test(f) &&
        !f.startsWith("node_modules/") &&
        f !== "__tests__/unit/docs-links.test.ts",
    );
    const held = new Set(files.map((f) => f.split("/").pop()));
    const cited: string[] = [];
    for (const file of text) {
      const body = readFileSync(join(ROOT, file), "utf8");
      // An upper-case notes file (like the README or the CHANGELOG) named anywhere must be one the repository holds.
      for (const m of body.matchAll(/\b[A-Z][A-Z_-]*\.md\b/g)) {
        if (!held.has(m[0])) cited.push(`${file}:${body.slice(0, m.index).split("\n").length}: ${m[0]}`);
      }
      // The word issue or ticket before a number, anywhere; a bare hash and number in prose (code uses them in messages of its own).
      const pattern = file.endsWith(".md")
        ? /\b(?:issue|issues|ticket)\s+#?\d+\b|(?<![\w&/`-])#\d{1,4}\b(?![\w-])/gi
        : /\b(?:issue|issues|ticket)\s+#?\d+\b/gi;
      for (const m of body.matchAll(pattern)) {
        const line = body.slice(0, m.index).split("\n").length;
        cited.push(`${file}:${line}: ${m[0]}`);
      }
    }
    expect(cited).toEqual([]);
  });
});
