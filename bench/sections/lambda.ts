/**
 * Lambda: zip size and cold init of every function the synthesized stacks deploy (found in the
 * stacks, so a function added to any module is measured with no edit here), against an empty
 * handler (bench/fixtures/empty-handler) bundled and zipped the same way.
 *
 * Cold init: a fresh `node` runs bench/fixtures/cold-init.mjs, which requires the handler module
 * from the unpacked zip (as the Node.js runtime does) and reports the time from process start to
 * the end of the module's top-level scope — the part of Lambda's Init Duration the code controls,
 * plus the same Node start-up for both. Each function runs with its own NODE_OPTIONS from the stack
 * (e.g. --enable-source-maps), the empty handler with the same.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { inflateRawSync } from "node:zlib";
import { FUNCTION_BUILD_OPTIONS } from "../../modules/shared/bundle";
import { defined } from "../../modules/shared/defined";
import { deterministicZip } from "../../modules/shared/zip";
import { synth } from "../../scripts/lib/terraform";
import { type Context, FIXTURES, ROOT, type Section, WORK_DIR } from "../lib/context";
import { figure, type Figure, median } from "../lib/figures";
import { run } from "../lib/measure";

export interface DeployedFunction {
  /** Stacks deploying this zip, and the function names there. */
  readonly deployments: { stack: string; functionName: string }[];
  readonly zip: string;
  readonly handler: string;
  readonly nodeOptions?: string;
  readonly sha256: string;
  readonly bytes: number;
}

/** The attributes of a synthesized aws_lambda_function that the bench reads. */
interface SynthesizedFunction {
  readonly runtime?: string;
  readonly filename?: unknown;
  readonly handler: string;
  readonly function_name?: string;
  readonly environment?: { readonly variables?: Readonly<Record<string, string | undefined>> };
}

/** Every Node.js function in a synth output, one entry per distinct zip. */
export function deployedFunctions(out: string): DeployedFunction[] {
  const byZip = new Map<string, DeployedFunction>();
  for (const stack of readdirSync(join(out, "stacks")).sort()) {
    const dir = join(out, "stacks", stack);
    const json = JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8")) as {
      readonly resource?: { readonly aws_lambda_function?: Readonly<Record<string, SynthesizedFunction>> };
    };
    for (const [name, fn] of Object.entries(json.resource?.aws_lambda_function ?? {})) {
      if (!String(fn.runtime ?? "").startsWith("nodejs") || typeof fn.filename !== "string") continue;
      const data = readFileSync(join(dir, fn.filename));
      const sha256 = createHash("sha256").update(data).digest("hex");
      const entry = byZip.get(sha256) ?? {
        deployments: [],
        zip: join(dir, fn.filename),
        handler: fn.handler,
        nodeOptions: fn.environment?.variables?.NODE_OPTIONS,
        sha256,
        bytes: data.length,
      };
      entry.deployments.push({ stack, functionName: String(fn.function_name ?? name) });
      byZip.set(sha256, entry);
    }
  }
  return [...byZip.values()];
}

/** Entries of a zip (stored or deflated), read from its central directory. */
export function unzip(zip: Buffer): { name: string; data: Buffer }[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error("not a zip archive");
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const out: { name: string; data: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(p + 10);
    const size = zip.readUInt32LE(p + 20);
    const nameLength = zip.readUInt16LE(p + 28);
    const extra = zip.readUInt16LE(p + 30);
    const comment = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const name = zip.subarray(p + 46, p + 46 + nameLength).toString("utf8");
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(start, start + size);
    if (method !== 0 && method !== 8) throw new Error(`${name}: unsupported zip method ${method}`);
    out.push({ name, data: method === 0 ? Buffer.from(raw) : inflateRawSync(raw) });
    p += 46 + nameLength + extra + comment;
  }
  return out;
}

function unpack(zip: Buffer, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  for (const e of unzip(zip)) {
    if (e.name.endsWith("/")) continue;
    mkdirSync(dirname(join(dir, e.name)), { recursive: true });
    writeFileSync(join(dir, e.name), e.data);
  }
}

/** The empty handler, bundled with the functions' esbuild options and zipped the same way. */
function emptyHandlerZip(): Buffer {
  const esbuild = require("esbuild") as typeof import("esbuild");
  const anchor = join(WORK_DIR, "lambda", "empty-build");
  const result = esbuild.buildSync({
    ...FUNCTION_BUILD_OPTIONS,
    mainFields: [...FUNCTION_BUILD_OPTIONS.mainFields],
    absWorkingDir: ROOT,
    entryPoints: [join(FIXTURES, "empty-handler", "index.ts")],
    outdir: anchor,
    write: false,
    logLevel: "silent",
  });
  return deterministicZip(
    result.outputFiles.map((f) => ({ name: f.path.slice(anchor.length + 1), data: Buffer.from(f.contents) })),
  );
}

interface ColdInit {
  readonly initMs: number;
  readonly requireMs: number;
  /** With `thenLazy`: when the chunks the handler imports dynamically (at its first invocation) were loaded too. */
  readonly lazyMs?: number;
}

async function coldInit(
  dir: string,
  handler: string,
  nodeOptions: string | undefined,
  thenLazy = false,
): Promise<ColdInit> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_REGION: "eu-west-1",
    ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
  };
  const m = await run(
    process.execPath,
    [join(FIXTURES, "cold-init.mjs"), dir, handler, ...(thenLazy ? ["--then-lazy"] : [])],
    { env },
  );
  return JSON.parse(defined(m.stdout.trim().split("\n").pop(), "cold-init's output line"));
}

export const lambdaSection: Section = {
  id: "lambda",
  title: "Lambda: zip size and cold init vs an empty handler bundled the same way",
  summary:
    "zip bytes and cold-init time (fresh node: load the bundle, run its module scope) of every function in the stacks",
  async run(ctx: Context) {
    const work = join(WORK_DIR, "lambda");
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const out = join(work, "out");
    ctx.log("lambda: synthesizing every environment");
    synth(out);
    const functions = deployedFunctions(out);
    if (functions.length === 0) throw new Error("no Node.js Lambda function in the synthesized stacks");
    const empty = emptyHandlerZip();
    const emptyDir = join(work, "empty");
    unpack(empty, emptyDir);

    const figures: Figure[] = [];
    const runs = Math.max(ctx.options.runs, 5) * 2; // a process start is short and noisy: more samples
    for (const fn of functions) {
      const label = fn.deployments[0].functionName.replace(/^[^-]+-[^-]+-/, "");
      const dir = join(work, fn.sha256.slice(0, 12));
      unpack(readFileSync(fn.zip), dir);
      ctx.log(
        `lambda: ${label} (${fn.deployments.length} stacks), ${runs} alternating cold starts of it and the empty handler`,
      );
      await coldInit(dir, fn.handler, fn.nodeOptions);
      await coldInit(emptyDir, "index.handler", fn.nodeOptions);
      const mine: ColdInit[] = [];
      const base: ColdInit[] = [];
      for (let i = 0; i < runs; i++) {
        if (i % 2 === 0)
          (mine.push(await coldInit(dir, fn.handler, fn.nodeOptions)),
            base.push(await coldInit(emptyDir, "index.handler", fn.nodeOptions)));
        else
          (base.push(await coldInit(emptyDir, "index.handler", fn.nodeOptions)),
            mine.push(await coldInit(dir, fn.handler, fn.nodeOptions)));
      }
      const mid = (xs: number[]) => median(xs).toFixed(1);
      // The other side of lazy loading: the module loading the first invocation adds.
      const lazy: number[] = [];
      for (let i = 0; i < runs / 2; i++)
        lazy.push((await coldInit(dir, fn.handler, fn.nodeOptions, true)).lazyMs ?? Number.NaN);
      const files = unzip(readFileSync(fn.zip));
      const kb = (xs: { data: Buffer }[]) => `${Math.round(xs.reduce((a, e) => a + e.data.length, 0) / 1024)} KB`;
      const entryFile = files.filter((e) => /^index\.(m|c)?js$/.test(e.name));
      const maps = files.filter((e) => e.name.endsWith(".map"));
      const chunks = files.filter((e) => !entryFile.includes(e) && !maps.includes(e));
      figures.push(
        figure({
          section: "lambda",
          name: `${label}: zip`,
          unit: "bytes",
          samples: [fn.bytes],
          yardstick: { name: "empty handler zip", samples: [empty.length] },
          note:
            `${files.length} files: entry ${entryFile.map((e) => e.name).join("")} ${kb(entryFile)}, ${chunks.length} chunks loaded later ${kb(chunks)}, ` +
            `${maps.length} sourcemaps ${kb(maps)}; stored uncompressed (deterministic); deployed in ${fn.deployments.map((d) => d.stack).join(", ")}`,
        }),
        figure({
          section: "lambda",
          name: `${label}: cold init`,
          unit: "ms",
          samples: mine.map((x) => x.initMs),
          yardstick: { name: "empty handler", samples: base.map((x) => x.initMs) },
          target: { maxRatio: 2, strict: true },
          note:
            `from process start; loading the module ${mid(mine.map((x) => x.requireMs))} ms (empty handler ${mid(base.map((x) => x.requireMs))} ms); ` +
            `with the chunks the first invocation imports: ${mid(lazy)} ms; NODE_OPTIONS=${fn.nodeOptions ?? ""}`,
        }),
      );
    }
    rmSync(work, { recursive: true, force: true });
    return { figures, details: { functions: functions.map(({ zip: _zip, ...f }) => f), emptyZipBytes: empty.length } };
  },
};
