/**
 * Incremental runs: one day's landing processed (raw → processed with the landing's manifest, then
 * processed → consumer over the partitions it touched) after 1, 30 and 90 days of stored history,
 * next to the whole-prefix run (`--input_path` = the dataset's raw root, every consumer partition)
 * on the same data. Objects and bytes are counted at the storage layer (a counting Hadoop file
 * system and Hadoop's FileSystem statistics: what the jobs opened). The measuring is
 * glue-jobs/bench/bench_incremental.py; this section turns its JSON into figures.
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Context, ROOT, type Section, WORK_DIR } from "../lib/context";
import { type Figure, figure } from "../lib/figures";
import { run } from "../lib/measure";
import { requirePython } from "./glue";

/** Days of stored history before the measured landing. */
export const HISTORIES = [1, 30, 90] as const;
/** The longest history's cost over the shortest's, for what the run reads and rewrites. */
export const MAX_GROWTH = 1.2;

export interface RunCounts {
  readonly objects: number;
  readonly bytes: number;
  readonly partitions: number;
  readonly seconds: number;
  readonly objectsByZone: Record<string, number>;
}

export interface IncrementalFigures {
  readonly recordsPerDay: number;
  readonly environment: string;
  readonly histories: readonly number[];
  readonly incremental: Record<string, RunCounts>;
  readonly wholePrefix: Record<string, RunCounts>;
}

/**
 * The section's figures: per counted quantity, the incremental run after the longest history
 * against the one after the shortest (target ≤ MAX_GROWTH), and each run's wall time against the
 * whole-prefix run on the same data (the yardstick; no target: Spark's start-up dominates it).
 */
export function incrementalFigures(f: IncrementalFigures): Figure[] {
  const first = String(Math.min(...f.histories));
  const last = String(Math.max(...f.histories));
  const inc = (h: string) => f.incremental[h];
  const whole = (h: string) => f.wholePrefix[h];
  for (const h of [first, last])
    if (!inc(h) || !whole(h)) throw new Error(`incremental bench: no figures for ${h} days of history`);
  const growth = (name: string, unit: "files" | "bytes", pick: (r: RunCounts) => number, note: string) =>
    figure({
      section: "incremental",
      name: `${name}, ${last}-day history`,
      unit,
      samples: [pick(inc(last))],
      yardstick: { name: `${first}-day history`, samples: [pick(inc(first))] },
      target: { maxRatio: MAX_GROWTH },
      note: `${note}; whole-prefix run on the same data: ${pick(whole(last)).toLocaleString("en")}`,
    });
  return [
    growth("objects opened", "files", (r) => r.objects, "raw, processed and consumer files the two jobs opened"),
    growth("bytes read", "bytes", (r) => r.bytes, "Hadoop FileSystem statistics"),
    growth("partitions rewritten", "files", (r) => r.partitions, "processed + consumer partitions committed"),
    ...f.histories.map((h) =>
      figure({
        section: "incremental",
        name: `wall, ${h}-day history`,
        unit: "s",
        samples: [inc(String(h)).seconds],
        yardstick: { name: "whole-prefix run", samples: [whole(String(h)).seconds] },
        note: `${f.recordsPerDay.toLocaleString("en")} records a day (${f.environment} partitioning); both jobs, one Spark session`,
      }),
    ),
  ];
}

export const incrementalSection: Section = {
  id: "incremental",
  title: "Incremental runs: one day's landing after 1, 30 and 90 days of history vs the whole-prefix run",
  summary:
    "objects and bytes the jobs opened, partitions rewritten, wall time; 90-day/1-day ratios, whole-prefix run as yardstick",
  async run(ctx: Context) {
    const python = requirePython();
    const work = join(WORK_DIR, "incremental");
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const json = join(work, "figures.json");
    ctx.log(`incremental: histories ${HISTORIES.join(", ")} days (a few minutes)`);
    await run(
      python,
      [
        join(ROOT, "glue-jobs", "bench", "bench_incremental.py"),
        "--histories",
        HISTORIES.join(","),
        "--workdir",
        join(work, "data"),
        "--json",
        json,
      ],
      { cwd: ROOT, echo: false },
    );
    const f = JSON.parse(readFileSync(json, "utf8")) as IncrementalFigures;
    rmSync(work, { recursive: true, force: true });
    return { figures: incrementalFigures(f), details: f as unknown as Record<string, unknown> };
  },
};
