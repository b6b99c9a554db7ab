/**
 * Running a command and measuring it: wall time, and peak memory as the resident set size of the
 * largest process in its tree (what `/usr/bin/time -f %M` reports: the kernel's ru_maxrss over the
 * child and every descendant it waited for). Without /usr/bin/time, /proc is sampled every 10 ms
 * for the same quantity.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const GNU_TIME = "/usr/bin/time";

export interface Measured {
  readonly wallSeconds: number;
  /** Peak RSS of the largest process in the tree, MB (10^6 bytes). */
  readonly peakRssMb: number;
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Kill the command (and fail) after this long. @default 30 minutes */
  readonly timeoutMs?: number;
  /** Throw when the command exits non-zero. @default true */
  readonly check?: boolean;
  /** Pass the command's output through to this terminal (long runs); it is still captured. @default false */
  readonly echo?: boolean;
}

/** Runs `command args…` and measures it. */
export async function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<Measured> {
  const useTime = existsSync(GNU_TIME);
  const scratch = mkdtempSync(join(tmpdir(), "bench-"));
  const rssFile = join(scratch, "rss");
  const [file, argv] = useTime ? [GNU_TIME, ["-f", "%M", "-o", rssFile, command, ...args]] : [command, [...args]];
  const started = process.hrtime.bigint();
  const child = spawn(file, argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d;
    if (options.echo) process.stdout.write(d);
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d;
    if (options.echo) process.stderr.write(d);
  });
  let sampledKb = 0;
  const sampler = useTime
    ? undefined
    : setInterval(() => {
        // No pid: the child was never spawned, and its "error" event rejects the run.
        if (child.pid !== undefined) sampledKb = Math.max(sampledKb, largestRssKb(child.pid));
      }, 10);
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30 * 60_000);
  const status = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve(code));
  });
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearTimeout(timer);
  if (sampler) clearInterval(sampler);
  let peakKb = sampledKb;
  if (useTime) {
    // GNU time prints "Command exited with non-zero status N" before the figure when it fails.
    const lines = (existsSync(rssFile) ? readFileSync(rssFile, "utf8") : "").trim().split("\n");
    peakKb = Number(lines[lines.length - 1]) || 0;
  }
  rmSync(scratch, { recursive: true, force: true });
  const result = { wallSeconds, peakRssMb: (peakKb * 1024) / 1e6, status, stdout, stderr };
  if ((options.check ?? true) && status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} (in ${options.cwd ?? process.cwd()}) exited ${status}:\n${tail(stderr || stdout)}`,
    );
  }
  return result;
}

/** Runs the command `runs` times (after `warmup` unmeasured runs) and returns every measurement. */
export async function repeat(runs: number, warmup: number, fn: () => Promise<Measured>): Promise<Measured[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: Measured[] = [];
  for (let i = 0; i < runs; i++) out.push(await fn());
  return out;
}

/** The last lines of a command's output, for error messages. */
export function tail(text: string, lines = 30): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/** Largest VmRSS (kB) among `root` and its descendants, from /proc. */
function largestRssKb(root: number): number {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // exited meanwhile
    }
  }
  const tree = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parents) if (!tree.has(pid) && tree.has(ppid)) (tree.add(pid), (grew = true));
  }
  let max = 0;
  for (const pid of tree) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) max = Math.max(max, Number(m[1]));
    } catch {
      // exited meanwhile
    }
  }
  return max;
}
