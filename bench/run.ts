/**
 * `npm run bench`: measures synth, tests, terraform, Lambda bundles, the Glue job and the data
 * layout, each figure the median of several runs against a yardstick measured in the same run.
 * Prints a table, writes the same figures as JSON. Not part of `npm test` (tests never time anything).
 *
 *   npm run bench                          # every section (about 15 minutes on 2 cores)
 *   npm run bench -- --only synth,lambda   # some sections
 *   npm run bench -- --runs 5              # more runs per figure
 *   npm run bench -- --help
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, freemem, loadavg, release, totalmem } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { type BenchOptions, BENCH_DIR, type Context, ROOT, type Section, type SectionResult } from "./lib/context";
import { type Figure, renderMarkdown, renderTable } from "./lib/figures";
import { glueSection } from "./sections/glue";
import { incrementalSection } from "./sections/incremental";
import { lambdaSection } from "./sections/lambda";
import { layoutSection } from "./sections/layout";
import { synthSection } from "./sections/synth";
import { terraformSection } from "./sections/terraform";
import { testsSection } from "./sections/tests";

export const SECTIONS: readonly Section[] = [
  synthSection,
  testsSection,
  terraformSection,
  lambdaSection,
  glueSection,
  incrementalSection,
  layoutSection,
];

export const DEFAULTS: BenchOptions & { json: string } = {
  runs: 3,
  fullSuiteRuns: 1,
  glueRecords: 1_000_000,
  layoutRecords: 900_000,
  layoutDays: 90,
  json: join(BENCH_DIR, "results", "latest.json"),
};

export interface Cli extends BenchOptions {
  readonly only: readonly string[];
  readonly json: string;
  /** Also write the Markdown table into docs/performance.md and bench/figures.json. */
  readonly docs: boolean;
  readonly help: boolean;
}

export function usage(): string {
  return `npm run bench [-- options]

Measures the platform's speed and footprint; every figure is the median of several runs, next to
a yardstick measured in the same run. Prints a table and writes the figures as JSON.

Options:
  --only <a,b>              sections to run (default: all): ${SECTIONS.map((s) => s.id).join(", ")}
  --runs <n>                measured runs per figure (default ${DEFAULTS.runs})
  --full-suite-runs <n>     runs of the full test suite, minutes each; 0 skips it (default ${DEFAULTS.fullSuiteRuns})
  --glue-records <n>        records for the Glue job benchmark (default ${DEFAULTS.glueRecords})
  --layout-records <n>      records for the data-layout benchmark (default ${DEFAULTS.layoutRecords})
  --layout-days <n>         days they span (default ${DEFAULTS.layoutDays})
  --json <file>             where the JSON goes (default ${relative(ROOT, DEFAULTS.json)})
  --docs                    also put the table into docs/performance.md and bench/figures.json
  --help                    this text

Sections:
${SECTIONS.map((s) => `  ${s.id.padEnd(10)} ${s.summary}`).join("\n")}`;
}

/** Parses the command line; throws on anything it does not know. */
export function parseArgs(argv: readonly string[]): Cli {
  const out: { -readonly [K in keyof Cli]: Cli[K] } = {
    ...DEFAULTS,
    only: SECTIONS.map((s) => s.id),
    docs: false,
    help: false,
  };
  const ids = SECTIONS.map((s) => s.id);
  const count = (flag: string, value: string | undefined, min: number) => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < min)
      throw new Error(`${flag} needs an integer ≥ ${min} (got ${value ?? "nothing"})`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case "--only": {
        const v = value();
        const only = (v ?? "")
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        const unknown = only.filter((s) => !ids.includes(s));
        if (only.length === 0 || unknown.length)
          throw new Error(`--only takes sections among ${ids.join(", ")} (got ${v ?? "nothing"})`);
        out.only = ids.filter((s) => only.includes(s));
        break;
      }
      case "--runs":
        out.runs = count(flag, value(), 1);
        break;
      case "--full-suite-runs":
        out.fullSuiteRuns = count(flag, value(), 0);
        break;
      case "--glue-records":
        out.glueRecords = count(flag, value(), 1000);
        break;
      case "--layout-records":
        out.layoutRecords = count(flag, value(), 1000);
        break;
      case "--layout-days":
        out.layoutDays = count(flag, value(), 2);
        break;
      case "--json": {
        const v = value();
        if (!v) throw new Error("--json needs a file");
        // npm runs scripts from the package root; INIT_CWD is where `npm run bench` was typed.
        out.json = resolve(process.env.INIT_CWD ?? process.cwd(), v);
        break;
      }
      case "--docs":
        out.docs = true;
        break;
      case "--help":
      case "-h":
        out.help = true;
        break;
      default:
        throw new Error(`unknown option ${arg}; see --help`);
    }
  }
  return out;
}

/** What the figures were measured on. */
export function machine(): Record<string, string | number> {
  const osName = existsSync("/etc/os-release")
    ? (/PRETTY_NAME="?([^"\n]+)/.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "")
    : "";
  const version = (cmd: string, args: string[], pattern: RegExp) => {
    try {
      // (java prints its version on stderr)
      const out = spawnSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      return pattern.exec(`${out.stdout ?? ""}${out.stderr ?? ""}`)?.[1] ?? "";
    } catch {
      return "";
    }
  };
  const python = join(ROOT, ".venv", "bin", "python");
  const libraries = version(
    python,
    ["-c", "import importlib.metadata as m; print(' '.join(m.version(p) for p in ('pyspark', 'duckdb')))"],
    /^(\S+ \S+)/m,
  ).split(" ");
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    freeMemoryGiB: Math.round(freemem() / 2 ** 30),
    os: `${osName} (Linux ${release()})`.trim(),
    node: process.version,
    terraform: version("terraform", ["version"], /Terraform v(\S+)/),
    python: version(python, ["--version"], /Python (\S+)/),
    java: version("java", ["-version"], /version "([^"]+)"/),
    pyspark: libraries[0] ?? "",
    duckdb: libraries[1] ?? "",
    loadAverage1mAtStart: Number(loadavg()[0].toFixed(2)),
  };
}

export function describeMachine(m: Record<string, string | number>): string {
  return (
    `${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB RAM, ${m.os}; Node ${m.node}, Python ${m.python}, Java ${m.java}, ` +
    `Terraform ${m.terraform}, PySpark ${m.pyspark}, DuckDB ${m.duckdb}; load average ${m.loadAverage1mAtStart} at start`
  );
}

const BLOCK_START = "<!-- bench:start -->";
const BLOCK_END = "<!-- bench:end -->";
/** The page that shows the latest figures. */
export const PERFORMANCE_PAGE = "docs/performance.md";

/** Replaces the performance page's generated block (between the bench markers). */
export function withFiguresBlock(page: string, block: string): string {
  const start = page.indexOf(BLOCK_START);
  const end = page.indexOf(BLOCK_END);
  if (start < 0 || end < start) throw new Error(`${PERFORMANCE_PAGE} has no ${BLOCK_START} … ${BLOCK_END} block`);
  return `${page.slice(0, start + BLOCK_START.length)}\n${block}\n${page.slice(end)}`;
}

async function main(): Promise<number> {
  const cli = parseArgs(process.argv.slice(2));
  if (cli.help) {
    console.log(usage());
    return 0;
  }
  const titles = Object.fromEntries(SECTIONS.map((s) => [s.id, s.title]));
  const started = new Date();
  const m = machine();
  const ctx: Context = {
    options: cli,
    log: (message) => console.error(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0)}s] ${message}`),
  };
  ctx.log(`machine: ${describeMachine(m)}`);
  const results: Record<string, SectionResult & { seconds: number }> = {};
  const failures: Record<string, string> = {};
  for (const section of SECTIONS.filter((s) => cli.only.includes(s.id))) {
    const t = Date.now();
    try {
      results[section.id] = { ...(await section.run(ctx)), seconds: (Date.now() - t) / 1000 };
      ctx.log(`${section.id}: done in ${((Date.now() - t) / 1000).toFixed(0)} s`);
    } catch (error) {
      failures[section.id] = error instanceof Error ? error.message : String(error);
      ctx.log(`${section.id}: FAILED: ${failures[section.id]}`);
    }
  }
  const figures: Figure[] = Object.values(results).flatMap((r) => r.figures);
  const table = renderTable(figures, titles);
  console.log(`\n${table}\n`);
  for (const f of figures.filter((x) => x.note)) console.log(`  ${f.name}: ${f.note}`);
  const missed = figures.filter((f) => f.met === false);
  console.log(
    `\n${figures.filter((f) => f.met).length} targets met, ${missed.length} missed${missed.length ? `: ${missed.map((f) => f.name).join("; ")}` : ""}`,
  );

  const report = {
    startedAt: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    machine: m,
    options: {
      runs: cli.runs,
      fullSuiteRuns: cli.fullSuiteRuns,
      glueRecords: cli.glueRecords,
      layoutRecords: cli.layoutRecords,
      layoutDays: cli.layoutDays,
      only: cli.only,
    },
    figures,
    sections: Object.fromEntries(
      Object.entries(results).map(([id, r]) => [
        id,
        { title: titles[id], seconds: r.seconds, details: r.details ?? {} },
      ]),
    ),
    failures,
  };
  mkdirSync(dirname(cli.json), { recursive: true });
  writeFileSync(cli.json, `${JSON.stringify(report, null, 2)}\n`);
  ctx.log(`figures written to ${relative(ROOT, cli.json)}`);
  if (cli.docs) {
    if (Object.keys(failures).length || cli.only.length !== SECTIONS.length)
      throw new Error("--docs needs a complete run: every section, none failed");
    const md = renderMarkdown(figures, titles);
    const block =
      `Measured by \`npm run bench -- --docs\` on ${report.startedAt.slice(0, 10)}: ${describeMachine(m)}; ${cli.runs} runs per figure ` +
      `(full suite: ${cli.fullSuiteRuns}), medians. Figures: [bench/figures.json](../bench/figures.json).\n\n${md}\n\n` +
      figures
        .filter((f) => f.note)
        .map((f) => `- ${f.name}: ${f.note}`)
        .join("\n");
    const page = join(ROOT, PERFORMANCE_PAGE);
    writeFileSync(page, withFiguresBlock(readFileSync(page, "utf8"), block));
    copyFileSync(cli.json, join(BENCH_DIR, "figures.json"));
    ctx.log(`${PERFORMANCE_PAGE} and bench/figures.json updated`);
  }
  return Object.keys(failures).length ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(2);
    },
  );
}
