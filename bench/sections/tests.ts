/**
 * Tests: wall time of the unit suite (`npm run test:unit`: no terraform, emulator or Spark) and
 * of the full suite (`npm test`: Python setup check, type check, every jest project, pytest).
 * Yardstick of the unit suite: jest with the project's transform running one trivial test
 * (bench/fixtures/trivial-jest), i.e. jest's own start-up; the full suite is compared with the
 * unit suite measured in the same run.
 */
import { join } from "node:path";
import { type Context, FIXTURES, ROOT, type Section } from "../lib/context";
import { figure, type Figure } from "../lib/figures";
import { type Measured, run } from "../lib/measure";

const npm = (script: string, cwd: string) => run("npm", ["run", "--silent", script], { cwd, env: { ...process.env, CI: "true" } });

/** Test and suite counts from jest's summary lines ("Tests: 703 passed, 703 total"). */
export function jestCounts(output: string): { suites?: number; tests?: number } {
  const total = (label: string) => {
    const m = new RegExp(`^${label}:.*?(\\d+) total`, "m").exec(output);
    return m ? Number(m[1]) : undefined;
  };
  return { suites: total("Test Suites"), tests: total("Tests") };
}

export const testsSection: Section = {
  id: "tests",
  title: "Tests: unit suite (no terraform, emulator or Spark) and the full suite",
  summary: "wall time of `npm run test:unit` (vs jest running one trivial test) and of `npm test` (vs the unit suite)",
  async run(ctx: Context) {
    ctx.log(`tests: unit suite and trivial jest (warm-up, then ${ctx.options.runs} alternating runs)`);
    const unitOnce = () => npm("test:unit", ROOT);
    const trivialOnce = () => npm("test", join(FIXTURES, "trivial-jest"));
    // Warm-up: jest's transform cache and the OS file cache, as on any developer machine.
    await unitOnce();
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
        note: `${counts.suites ?? "?"} files, ${counts.tests ?? "?"} tests, 2 jest workers`,
      }),
    ];
    const details: Record<string, unknown> = { unit: counts };
    if (ctx.options.fullSuiteRuns > 0) {
      ctx.log(`tests: full suite, ${ctx.options.fullSuiteRuns} run(s) (minutes each)`);
      const full: Measured[] = [];
      for (let i = 0; i < ctx.options.fullSuiteRuns; i++) full.push(await npm("test", ROOT));
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
