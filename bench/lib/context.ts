/** What every benchmark section receives, and what it returns. */
import { join, resolve } from "node:path";
import type { Figure } from "./figures";

export const ROOT = resolve(__dirname, "..", "..");
export const BENCH_DIR = join(ROOT, "bench");
export const FIXTURES = join(BENCH_DIR, "fixtures");
/** Scratch space of a bench run (gitignored); every section cleans up its own folder. */
export const WORK_DIR = join(ROOT, ".build", "bench");

export interface BenchOptions {
  /** Measured runs per figure (medians). */
  readonly runs: number;
  /** Measured runs of the full test suite (each takes minutes). */
  readonly fullSuiteRuns: number;
  /** Records generated for the Glue job benchmark. */
  readonly glueRecords: number;
  /** Records generated for the data-layout benchmark (spread over `layoutDays`). */
  readonly layoutRecords: number;
  readonly layoutDays: number;
}

export interface Context {
  readonly options: BenchOptions;
  /** Progress to stderr (the table goes to stdout). */
  log(message: string): void;
}

export interface SectionResult {
  readonly figures: Figure[];
  /** Extra facts for the JSON (sizes, counts, per-environment detail) that are not figures. */
  readonly details?: Record<string, unknown>;
}

export interface Section {
  readonly id: string;
  readonly title: string;
  /** One line for --help. */
  readonly summary: string;
  run(context: Context): Promise<SectionResult>;
}
