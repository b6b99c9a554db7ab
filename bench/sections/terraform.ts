/**
 * Terraform: `init -backend=false` and `validate` time for every synthesized stack, plan time
 * against the emulator for every deployable environment (dev/staging/prod, with their real
 * configuration; scripts/lib/emulated.ts) and for `local` (which targets the emulator as it is
 * synthesized), and the provider's disk footprint: every stack links
 * the one binary in the shared plugin cache (.terraform.d/plugin-cache) instead of holding a copy.
 * Yardstick: the one-resource app (bench/fixtures/trivial-app), same provider, same commands.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, realpathSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { type EnvironmentConfig, loadEnvironments } from "../../environments";
import { Emulator } from "../../scripts/emulator";
import * as emulated from "../../scripts/lib/emulated";
import { requireTerraform, stackDirs, synth, terraformEnv } from "../../scripts/lib/terraform";
import { type Context, FIXTURES, ROOT, type Section, WORK_DIR } from "../lib/context";
import { figure, type Figure, formatBytes } from "../lib/figures";
import { type Measured, run } from "../lib/measure";

const TRIVIAL = "trivial";

function tf(args: string[], cwd: string, env: NodeJS.ProcessEnv, okStatus: number[] = [0]): Promise<Measured> {
  return run("terraform", [...args, "-no-color"], { cwd, env, check: false }).then((m) => {
    if (!okStatus.includes(m.status ?? -1))
      throw new Error(`terraform ${args.join(" ")} in ${cwd} exited ${m.status}:\n${m.stderr.slice(-3000)}`);
    return m;
  });
}

/** Forget an init: the next `terraform init` installs (links) the provider again. */
function uninit(dir: string): void {
  rmSync(join(dir, ".terraform"), { recursive: true, force: true });
  rmSync(join(dir, ".terraform.lock.hcl"), { force: true });
}

export interface ProviderFootprint {
  /** Per stack: where its provider binary resolves to, and whether it is a link. */
  readonly stacks: { stack: string; file: string; link: boolean; bytes: number }[];
  /** Bytes on disk: each distinct file (device + inode) once. */
  readonly diskBytes: number;
  /** What the stacks would hold with a copy each. */
  readonly copiedBytes: number;
  /** One provider binary. */
  readonly binaryBytes: number;
}

/** The AWS provider binaries the initialized stacks hold, deduplicated by inode. */
export function providerFootprint(dirs: Record<string, string>): ProviderFootprint {
  const stacks: ProviderFootprint["stacks"] = [];
  const seen = new Map<string, number>();
  for (const [stack, dir] of Object.entries(dirs)) {
    const providers = join(dir, ".terraform", "providers", "registry.terraform.io", "hashicorp", "aws");
    for (const file of walk(providers).filter((f) => /terraform-provider-aws_/.test(f))) {
      const link =
        lstatSync(file).isSymbolicLink() || lstatSync(join(file, "..")).isSymbolicLink() || realpathSync(file) !== file;
      const st = statSync(file);
      seen.set(`${st.dev}:${st.ino}`, st.size);
      const real = realpathSync(file);
      // Inside the repository relative to it (the plugin cache), else absolute (a system mirror).
      stacks.push({
        stack,
        file: relative(ROOT, real).startsWith("..") ? real : relative(ROOT, real),
        link,
        bytes: st.size,
      });
    }
  }
  const diskBytes = [...seen.values()].reduce((a, b) => a + b, 0);
  return {
    stacks,
    diskBytes,
    copiedBytes: stacks.reduce((a, s) => a + s.bytes, 0),
    binaryBytes: stacks[0]?.bytes ?? 0,
  };
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    // Links to directories (terraform links whole package dirs from the cache) are followed.
    const isDir = e.isDirectory() || (e.isSymbolicLink() && statSync(p).isDirectory());
    return isDir ? walk(p) : [p];
  });
}

export const terraformSection: Section = {
  id: "terraform",
  title: "Terraform: init, validate, plan against the emulator; one shared provider",
  summary:
    "terraform init/validate per environment, plan per deployable environment against the emulator, provider bytes on disk",
  async run(ctx: Context) {
    requireTerraform();
    const setup = terraformEnv();
    const work = join(WORK_DIR, "terraform");
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const out = join(work, "out");
    const trivialOut = join(work, "trivial-out");
    ctx.log("terraform: synthesizing every environment and the trivial app");
    synth(out);
    await run(process.execPath, [join(ROOT, "scripts", "synth-app.mjs"), "trivial.ts"], {
      cwd: join(FIXTURES, "trivial-app"),
      env: { ...process.env, CDKTF_OUTDIR: trivialOut },
    });
    const dirs = { ...stackDirs(out), [TRIVIAL]: join(trivialOut, "stacks", TRIVIAL) };
    const stacks = Object.keys(dirs).filter((s) => s !== TRIVIAL);

    // init and validate, each stack in turn per round (the trivial stack too), after one warm-up round.
    const init: Record<string, number[]> = {};
    const validate: Record<string, number[]> = {};
    ctx.log(
      `terraform: init -backend=false + validate, ${stacks.length} stacks + trivial (warm-up, then ${ctx.options.runs} rounds)`,
    );
    for (let round = -1; round < ctx.options.runs; round++) {
      for (const [stack, dir] of Object.entries(dirs)) {
        uninit(dir);
        const i = await tf(["init", "-backend=false", "-input=false"], dir, setup.env);
        const v = await tf(["validate"], dir, setup.env);
        if (round < 0) continue;
        (init[stack] ??= []).push(i.wallSeconds);
        (validate[stack] ??= []).push(v.wallSeconds);
      }
    }
    const footprint = providerFootprint(dirs);

    const figures: Figure[] = [];
    for (const stack of stacks) {
      figures.push(
        figure({
          section: "terraform",
          name: `${stack}: terraform init`,
          unit: "s",
          samples: init[stack],
          yardstick: { name: "trivial stack", samples: init[TRIVIAL] },
        }),
        figure({
          section: "terraform",
          name: `${stack}: terraform validate`,
          unit: "s",
          samples: validate[stack],
          yardstick: { name: "trivial stack", samples: validate[TRIVIAL] },
        }),
      );
    }

    // Plans against the emulator: every environment — the deployable ones with their real
    // configuration and endpoints redirected, `local` as synthesized (it targets the emulator).
    const planned = loadEnvironments().filter((e) => stacks.includes(e.name));
    ctx.log(
      `terraform: plan against the emulator for ${planned.map((e) => e.name).join(", ")} + trivial (${ctx.options.runs} runs each after a warm-up)`,
    );
    const emulator = await Emulator.start();
    const plans: Record<string, number[]> = {};
    const planLines: Record<string, string> = {};
    try {
      // The trivial stack planned as if it were dev's: same account, region and endpoint override.
      const dev = planned.find((e) => e.tier !== "local") ?? planned[0];
      const trivialConfig = { ...dev, name: TRIVIAL } as EnvironmentConfig;
      const stacksToPlan = [...planned, trivialConfig].map((config) => {
        const stack = emulated.prepareStack(config.name === TRIVIAL ? trivialOut : out, config, emulator);
        return { name: config.name, dir: stack.dir, env: { ...setup.env, ...stack.env } };
      });
      for (const s of stacksToPlan) await tf(["init", "-input=false", "-reconfigure"], s.dir, s.env);
      const plan = (s: (typeof stacksToPlan)[number]) =>
        tf(["plan", "-input=false", "-detailed-exitcode", "-parallelism=20", "-refresh=true"], s.dir, s.env, [0, 2]);
      await plan(stacksToPlan[stacksToPlan.length - 1]); // warm-up (provider binary, emulator)
      // Rounds, every stack in turn: load on this shared machine hits each stack alike.
      for (let round = 0; round < ctx.options.runs; round++) {
        for (const s of stacksToPlan) {
          const p = await plan(s);
          planLines[s.name] = /Plan: .*/.exec(p.stdout)?.[0] ?? "";
          (plans[s.name] ??= []).push(p.wallSeconds);
        }
      }
      for (const s of stacksToPlan) rmSync(s.dir, { recursive: true, force: true });
    } finally {
      await emulator.stop();
    }
    for (const config of planned) {
      figures.push(
        figure({
          section: "terraform",
          name: `${config.name}: terraform plan (emulator)`,
          unit: "s",
          samples: plans[config.name],
          yardstick: { name: "trivial stack", samples: plans[TRIVIAL] },
          note: planLines[config.name],
        }),
      );
    }
    const initialized = Object.fromEntries(Object.entries(dirs));
    figures.push(
      figure({
        section: "terraform",
        name: `AWS provider on disk, ${Object.keys(initialized).length} initialized stacks`,
        unit: "bytes",
        samples: [footprint.diskBytes],
        yardstick: { name: "one provider binary", samples: [footprint.binaryBytes] },
        target: { maxRatio: 1 },
        note: `${footprint.stacks.filter((s) => s.link).length} of ${footprint.stacks.length} stacks link ${[...new Set(footprint.stacks.map((s) => s.file))].join(", ")}; a copy each would take ${formatBytes(footprint.copiedBytes)}`,
      }),
    );
    rmSync(work, { recursive: true, force: true });
    return { figures, details: { provider: footprint, mirror: setup.mirror ?? null, plans: planLines } };
  },
};
