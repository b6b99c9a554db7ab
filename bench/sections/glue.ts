/**
 * Glue: raw → processed over a generated bench dataset in local Spark, against a plain Spark read-then-write
 * of the same files (the I/O floor). The measuring is glue-jobs/bench/bench_raw_to_processed.py
 * (one warmed-up session, alternating runs, wall and JVM CPU time); this section runs it and turns
 * its JSON into figures.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Context, ROOT, type Section, WORK_DIR } from "../lib/context";
import { figure } from "../lib/figures";
import { run } from "../lib/measure";

export const PYTHON = join(ROOT, ".venv", "bin", "python");

export function requirePython(): string {
  if (!existsSync(PYTHON))
    throw new Error(
      "the Glue and layout benchmarks need the project's Python environment: run `npm run setup:py` first",
    );
  return PYTHON;
}

interface GlueFigures {
  records: number;
  environment: string;
  floorSeconds: number[];
  jobSeconds: number[];
  floorCpuSeconds: number[];
  jobCpuSeconds: number[];
  processed: number;
  quarantined: Record<string, number>;
  partitions: number;
  filesPerPartition: number;
  target: number;
}

export const glueSection: Section = {
  id: "glue",
  title: "Glue: raw → processed vs a plain Spark read-then-write (the I/O floor)",
  summary:
    "raw_to_processed over a generated bench dataset in local Spark, wall and JVM CPU time, vs spark.read.json().write.parquet()",
  async run(ctx: Context) {
    const python = requirePython();
    const work = join(WORK_DIR, "glue");
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const json = join(work, "figures.json");
    ctx.log(
      `glue: ${ctx.options.glueRecords.toLocaleString("en")} records, ${ctx.options.runs} runs (warm-up first; a few minutes)`,
    );
    await run(
      python,
      [
        join(ROOT, "glue-jobs", "bench", "bench_raw_to_processed.py"),
        "--records",
        String(ctx.options.glueRecords),
        "--runs",
        String(ctx.options.runs),
        "--workdir",
        join(work, "data"),
        "--json",
        json,
      ],
      { cwd: ROOT, echo: false },
    );
    const g = JSON.parse(readFileSync(json, "utf8")) as GlueFigures;
    rmSync(work, { recursive: true, force: true });
    const what =
      `${g.records.toLocaleString("en")} records (${g.environment} partitioning): ${g.processed.toLocaleString("en")} processed, ` +
      `${Object.entries(g.quarantined)
        .map(([r, n]) => `${n} ${r}`)
        .join(", ")}; ${g.partitions} partitions, ${g.filesPerPartition} file(s) each`;
    return {
      figures: [
        figure({
          section: "glue",
          name: "raw_to_processed: wall",
          unit: "s",
          samples: g.jobSeconds,
          yardstick: { name: "read JSON + write Parquet", samples: g.floorSeconds },
          target: { maxRatio: g.target, strict: true },
          note: what,
        }),
        figure({
          section: "glue",
          name: "raw_to_processed: JVM CPU",
          unit: "s",
          samples: g.jobCpuSeconds,
          yardstick: { name: "read JSON + write Parquet", samples: g.floorCpuSeconds },
          target: { maxRatio: g.target, strict: true },
          note: "user + system time of the Spark JVM (less sensitive to other load than wall time)",
        }),
      ],
      details: g as unknown as Record<string, unknown>,
    };
  },
};
