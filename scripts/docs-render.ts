/**
 * Renders the Mermaid diagrams of the docs to PNG, to look at them as a reader would:
 *
 *   npm run docs:render                 # every docs/architecture-<env>.md and the README sketch
 *   npm run docs:render -- prod dev     # only these environments
 *
 * Pictures go to .docs-render/<name>.png (not committed: pixels differ between chromium builds, so
 * they could not be checked; GitHub draws the Mermaid source of the pages itself, and
 * `npm run docs:diagrams` keeps that source current).
 *
 * mermaid-cli is not a devDependency: its puppeteer and mermaid trees would make every `npm ci`
 * heavier, and puppeteer's install step downloads a browser build. It is installed here on first
 * use, pinned with integrity hashes by scripts/docs-render/package-lock.json (`npm ci
 * --ignore-scripts`, so nothing is downloaded but the packages), and drives Debian's chromium.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./lib/terraform";

const TOOL_DIR = join(ROOT, "scripts", "docs-render");
const OUT_DIR = join(ROOT, ".docs-render");
const MMDC = join(TOOL_DIR, "node_modules", ".bin", "mmdc");

/** Debian's chromium, or the browser named by CHROMIUM_PATH. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  const path = env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: install Debian's chromium (as root: \`apt-get update && apt-get install -y chromium\`) or set CHROMIUM_PATH to a Chrome or Chromium binary`,
    );
  }
  return path;
}

/** The Mermaid blocks of a Markdown text, in order. */
export function mermaidBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

/** Installs the pinned mermaid-cli when its lock changed since the last install. */
function ensureMermaidCli(): void {
  const lock = readFileSync(join(TOOL_DIR, "package-lock.json"), "utf8");
  const stamp = join(TOOL_DIR, "node_modules", ".installed-lock");
  if (existsSync(MMDC) && existsSync(stamp) && readFileSync(stamp, "utf8") === lock) return;
  console.error("docs:render: installing the pinned mermaid-cli into scripts/docs-render/node_modules (once)");
  const npm = spawnSync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", TOOL_DIR], {
    stdio: "inherit",
    env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: "1" },
  });
  if (npm.status !== 0)
    throw new Error("npm ci of scripts/docs-render failed (it needs the npm registry); see the output above");
  writeFileSync(stamp, lock);
}

function render(name: string, source: string, browser: string): string {
  mkdirSync(OUT_DIR, { recursive: true });
  const input = join(OUT_DIR, `${name}.mmd`);
  const output = join(OUT_DIR, `${name}.png`);
  const config = join(OUT_DIR, "puppeteer.json");
  // Root in a container has no user namespace for chromium's sandbox.
  writeFileSync(config, JSON.stringify({ executablePath: browser, args: ["--no-sandbox", "--disable-gpu"] }));
  writeFileSync(input, source);
  const run = spawnSync(MMDC, ["-i", input, "-o", output, "-p", config, "-b", "white", "-w", "1800", "-s", "2", "-q"], {
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`mmdc failed on ${name}:\n${run.stderr || run.stdout}`);
  return output;
}

function main(args: readonly string[]): number {
  const browser = chromiumPath();
  ensureMermaidCli();
  const pages = readdirSync(join(ROOT, "docs"))
    .map((f) => /^architecture-(.+)\.md$/.exec(f)?.[1])
    .filter((env): env is string => !!env && (args.length === 0 || args.includes(env)));
  const jobs: [string, string][] = pages.flatMap((env) =>
    mermaidBlocks(readFileSync(join(ROOT, "docs", `architecture-${env}.md`), "utf8")).map(
      (src, i) => [`architecture-${env}${i ? `-${i}` : ""}`, src] as [string, string],
    ),
  );
  if (args.length === 0)
    mermaidBlocks(readFileSync(join(ROOT, "README.md"), "utf8")).forEach((src, i) => jobs.push([`readme-${i}`, src]));
  if (jobs.length === 0) throw new Error(`no diagrams to render${args.length ? ` for ${args.join(", ")}` : ""}`);
  for (const [name, src] of jobs) console.log(render(name, src, browser));
  return 0;
}

if (require.main === module) {
  try {
    process.exit(main(process.argv.slice(2)));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
