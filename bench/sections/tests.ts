/**
 * Tests: wall time of the unit suite (`npm run test:unit`: no terraform, emulator or Spark) and
 * of the full suite (`npm test`: Python setup check, type check, every jest project, pytest).
 * Yardstick of the unit suite: jest with the project's transform running one trivial test
 * (bench/fixtures/trivial-jest), i.e. jest's own start-up; the full suite is compared with the
 * unit suite measured in the same run.
 */
import { cpus } from "node:os";
import { join } from "node:path";
import { type Context, FIXTURES, ROOT, type Section } from "../lib/context";
import { figure, type Figure } from "../lib/figures";
import { type Measured, run } from "../lib/measure";

const npm = (script: string, cwd: string) =>
  run("npm", ["run", "--silent", script], { cwd, env: { ...process.env, CI: "true" } });

/** Test and suite counts from jest's summary lines ("Tests: 703 passed, 703 total"), summed over every jest run in the output. */
export function jestCounts(output: string): { suites?: number; tests?: number } {
  const total = (label: string) => {
    const all = [...output.matchAll(new RegExp(`^${label}:.*?(\\d+) total`, "gm"))].map((m) => Number(m[1]));
    return all.length ? all.reduce((a, b) => a + b, 0) : undefined;
  };
  return { suites: total("Test Suites"), tests: total("Tests") };
}

export const testsSection: Section = {
  id: "tests",
  title: "Tests: unit suite (no terraform, emulator or Spark) and the full suite",
  summary: "wall time of `npm run test:unit` (vs jest running one trivial test) and of `npm test` (vs the unit suite)",
  async run(ctx: Context) {
    const unitOnce = () => npm("test:unit", ROOT);
    const trivialOnce = () => npm("test", join(FIXTURES, "trivial-jest"));
    // The full suite first: minutes per run, and it warms what the unit suite needs (jest's
    // transform cache, the OS file cache), so the unit suite then needs no warm-up of its own.
    const full: Measured[] = [];
    if (ctx.options.fullSuiteRuns > 0) {
      ctx.log(`tests: full suite (npm test), ${ctx.options.fullSuiteRuns} run(s), minutes each`);
      for (let i = 0; i < ctx.options.fullSuiteRuns; i++) full.push(await npm("test", ROOT));
    } else {
      await unitOnce();
    }
    ctx.log(`tests: unit suite and trivial jest (${ctx.options.runs} alternating runs)`);
    await trivialOnce();
    const unit: Measured[] = [];
    const trivial: Measured[] = [];
    for (let i = 0; i < ctx.options.runs; i++) {
      if (i % 2 === 0) (unit.push(await unitOnce()), trivial.push(await trivialOnce()));
      else (trivial.push(await trivialOnce()), unit.push(await unitOnce()));
    }
    const counts = jestCounts(unit[unit.length - 1].stderr);
    const figures: Figure[] = [
      figure({
        section: "tests",
        name: "npm run test:unit: wall",
        unit: "s",
        samples: unit.map((m) => m.wallSeconds),
        yardstick: { name: "jest, one trivial test", samples: trivial.map((m) => m.wallSeconds) },
        target: { max: 60, strict: true },
        note: `${counts.suites ?? "?"} files, ${counts.tests ?? "?"} tests; one jest worker per core (--maxWorkers=100%, ${cpus().length} here)`,
      }),
    ];
    const details: Record<string, unknown> = { unit: counts };
    if (full.length > 0) {
      const out = full[full.length - 1];
      const fullCounts = jestCounts(out.stderr);
      const pytest = /(\d+) passed.* in [\d.]+s/.exec(out.stdout + out.stderr)?.[1];
      details.full = { ...fullCounts, pytest: pytest ? Number(pytest) : undefined };
      figures.push(
        figure({
          section: "tests",
          name: "npm test (full suite): wall",
          unit: "s",
          samples: full.map((m) => m.wallSeconds),
          yardstick: { name: "the unit suite", samples: unit.map((m) => m.wallSeconds) },
          note: `type check, ${fullCounts.suites ?? "?"} jest files (${fullCounts.tests ?? "?"} tests, integration included), ${pytest ?? "?"} pytest tests`,
        }),
      );
    }
    return { figures, details };
  },
};
