/**
 * Synth: wall time and peak memory to synthesize every environment, through the README's synth
 * path (`npm run synth` = `cdktf synth`) and as the app alone (`node scripts/synth-app.mjs`).
 * Yardstick: a one-resource cdktf app (bench/fixtures/trivial-app) started exactly the same way.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Context, FIXTURES, ROOT, type Section, WORK_DIR } from "../lib/context";
import { figure, type Figure } from "../lib/figures";
import { type Measured, run } from "../lib/measure";

const TRIVIAL = join(FIXTURES, "trivial-app");
const TARGET = { maxRatio: 1.5 };

interface Path {
  readonly label: string;
  /** The command for the platform (cwd ROOT) and for the trivial app (cwd TRIVIAL), writing to `out`. */
  command(app: "full" | "trivial", out: string): { file: string; args: string[]; cwd: string; env: NodeJS.ProcessEnv };
}

const env = (extra: NodeJS.ProcessEnv = {}) => ({ ...process.env, CHECKPOINT_DISABLE: "1", ...extra });

const PATHS: Path[] = [
  {
    label: "npm run synth (cdktf synth)",
    // The same npm script in both folders; --output keeps the bench away from cdktf.out.
    command: (app, out) => ({
      file: "npm",
      args: ["run", "--silent", "synth", "--", "--output", out],
      cwd: app === "full" ? ROOT : TRIVIAL,
      env: env(),
    }),
  },
  {
    label: "node scripts/synth-app.mjs",
    command: (app, out) => ({
      file: process.execPath,
      args:
        app === "full"
          ? [join(ROOT, "scripts", "synth-app.mjs")]
          : [join(ROOT, "scripts", "synth-app.mjs"), "trivial.ts"],
      cwd: app === "full" ? ROOT : TRIVIAL,
      env: env({ CDKTF_OUTDIR: out }),
    }),
  },
];

/** Stacks and managed resources in a synth output. */
export function countOutput(out: string): { stacks: string[]; resources: number } {
  const stacks = readdirSync(join(out, "stacks")).sort();
  let resources = 0;
  for (const s of stacks) {
    const json = JSON.parse(readFileSync(join(out, "stacks", s, "cdk.tf.json"), "utf8")) as {
      resource?: Record<string, object>;
    };
    for (const byName of Object.values(json.resource ?? {})) resources += Object.keys(byName).length;
  }
  return { stacks, resources };
}

export const synthSection: Section = {
  id: "synth",
  title: "Synth: every environment vs a one-resource app, started the same way",
  summary: "wall time and peak RSS of `npm run synth` and `node scripts/synth-app.mjs`, full app vs trivial app",
  async run(ctx: Context) {
    const work = join(WORK_DIR, "synth");
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const figures: Figure[] = [];
    const details: Record<string, unknown> = {};
    for (const path of PATHS) {
      const once = async (app: "full" | "trivial"): Promise<Measured> => {
        const out = join(work, `${app}-out`);
        rmSync(out, { recursive: true, force: true });
        const c = path.command(app, out);
        return run(c.file, c.args, { cwd: c.cwd, env: c.env });
      };
      ctx.log(`synth: ${path.label} (warm-up, then ${ctx.options.runs} alternating runs of each app)`);
      // Warm-up: OS file cache, esbuild's function-bundle cache under .build/.
      await once("full");
      await once("trivial");
      const full: Measured[] = [];
      const trivial: Measured[] = [];
      for (let i = 0; i < ctx.options.runs; i++) {
        if (i % 2 === 0) (full.push(await once("full")), trivial.push(await once("trivial")));
        else (trivial.push(await once("trivial")), full.push(await once("full")));
      }
      const counts = countOutput(join(work, "full-out"));
      const trivialCounts = countOutput(join(work, "trivial-out"));
      details[path.label] = { full: counts, trivial: trivialCounts };
      const what = `${counts.stacks.length} environments, ${counts.resources} resources`;
      figures.push(
        figure({
          section: "synth",
          name: `${path.label}: wall`,
          unit: "s",
          samples: full.map((m) => m.wallSeconds),
          yardstick: { name: "trivial app, same way", samples: trivial.map((m) => m.wallSeconds) },
          target: TARGET,
          note: what,
        }),
        figure({
          section: "synth",
          name: `${path.label}: peak RSS`,
          unit: "MB",
          samples: full.map((m) => m.peakRssMb),
          yardstick: { name: "trivial app, same way", samples: trivial.map((m) => m.peakRssMb) },
          target: TARGET,
          note: "largest process of the tree (ru_maxrss)",
        }),
      );
    }
    rmSync(work, { recursive: true, force: true });
    return { figures, details };
  },
};
