/**
 * Data layout, the Athena cost proxy: 90 days of a generated bench dataset through the platform's own jobs
 * (rds_extract → raw → raw_to_processed → processed → processed_to_consumer → consumer), then
 * DuckDB asks each zone the same one-day question. The measuring is
 * glue-jobs/bench/bench_layout.py; this section runs it and turns its JSON into figures.
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Context, ROOT, type Section, WORK_DIR } from "../lib/context";
import { figure, type Figure, median } from "../lib/figures";
import { run } from "../lib/measure";
import { requirePython } from "./glue";

interface Zone {
  files: number;
  bytes: number;
  partitions: number;
  filesPerPartitionMax: number;
  filesPerPartitionMean: number;
  meanFileBytes: number;
  uncompressedBytes?: number;
}

interface Query {
  /** Bytes the reader took from files, less `baselineBytes` (the same query over no partition). */
  bytesRead: number[];
  baselineBytes?: number[];
  seconds: number[];
  dayFiles: number;
  dayFileBytes: number;
}

export interface LayoutFigures {
  records: number;
  days: number;
  environment: string;
  partitionKeys: string[];
  consumerTable: string;
  consumerKind: string;
  queryDay: string;
  zones: Record<"raw" | "processed" | "consumer", Zone>;
  queries: Record<"raw" | "processed" | "consumer", Query>;
  targets: { queryBytesRatio: number; sizeRatio: number };
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/** The figures of a bench_layout.py result. */
export function layoutFigures(l: LayoutFigures): Figure[] {
  const { raw, processed, consumer } = l.zones;
  const q = l.queries;
  const consumerName = `consumer (${l.consumerTable}, ${l.consumerKind})`;
  const rawPruned = `raw JSON, same query (${q.raw.dayFiles} files of the day)`;
  const perDay = Math.round(l.records / l.days).toLocaleString("en");
  const section = "layout";
  const read = (zone: "processed" | "consumer") =>
    `${q[zone].dayFiles} file(s) of the day, ${kb(q[zone].dayFileBytes)} on disk, ${kb(median(q[zone].bytesRead) / Math.max(1, q[zone].dayFiles))} read per file`;
  return [
    figure({
      section,
      name: `one-day query, ${consumerName}: bytes read`,
      unit: "bytes",
      samples: q.consumer.bytesRead,
      yardstick: { name: rawPruned, samples: q.raw.bytesRead },
      target: { maxRatio: l.targets.queryBytesRatio },
      note:
        `records and amounts by region and status on ${l.queryDay} (day ${Math.floor(l.days / 2) + 1} of ${l.days}, ~${perDay} records a day); ` +
        `${read("consumer")}; raw ${kb(q.raw.dayFileBytes)} gzip NDJSON for the day, both pruned to the day's partitions`,
    }),
    figure({
      section,
      name: "one-day query, processed (row-level Parquet): bytes read",
      unit: "bytes",
      samples: q.processed.bytesRead,
      yardstick: { name: rawPruned, samples: q.raw.bytesRead },
      note: `${read("processed")}: footers and the status and amount column chunks`,
    }),
    figure({
      section,
      name: `size, ${consumerName}`,
      unit: "bytes",
      samples: [consumer.bytes],
      yardstick: { name: "raw JSON (gzip, as landed)", samples: [raw.bytes] },
      target: { maxRatio: l.targets.sizeRatio },
    }),
    figure({
      section,
      name: "size, processed (row-level Parquet)",
      unit: "bytes",
      samples: [processed.bytes],
      yardstick: { name: "raw JSON text, uncompressed", samples: [raw.uncompressedBytes ?? raw.bytes] },
      target: { maxRatio: l.targets.sizeRatio },
    }),
    figure({
      section,
      name: "size, processed, vs the gzip it landed as",
      unit: "bytes",
      samples: [processed.bytes],
      yardstick: { name: "raw JSON (gzip, as landed)", samples: [raw.bytes] },
      target: { maxRatio: l.targets.sizeRatio },
      note: `${Math.round(processed.bytes / l.records)} B a row against ${Math.round(raw.bytes / l.records)} B of gzip NDJSON: unique ids and timestamps, snappy`,
    }),
    ...(["consumer", "processed"] as const).map((zone) =>
      figure({
        section,
        name: `${zone}: files per partition (max)`,
        unit: "files",
        samples: [l.zones[zone].filesPerPartitionMax],
        yardstick: { name: "raw, as landed", samples: [raw.filesPerPartitionMax] },
        target: { max: 1 },
        note: `${l.zones[zone].files} files in ${l.zones[zone].partitions} partitions, ${kb(l.zones[zone].meanFileBytes)} each on average`,
      }),
    ),
  ];
}

export const layoutSection: Section = {
  id: "layout",
  title: "Data layout (Athena cost proxy, DuckDB as the reader)",
  summary:
    "90 days through the real jobs; one-day query bytes read, size and files per partition of each zone vs raw JSON",
  async run(ctx: Context) {
    const python = requirePython();
    const work = join(WORK_DIR, "layout");
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const json = join(work, "figures.json");
    ctx.log(
      `layout: ${ctx.options.layoutRecords.toLocaleString("en")} bench records over ${ctx.options.layoutDays} days through the jobs (a few minutes)`,
    );
    await run(
      python,
      [
        join(ROOT, "glue-jobs", "bench", "bench_layout.py"),
        "--records",
        String(ctx.options.layoutRecords),
        "--days",
        String(ctx.options.layoutDays),
        "--runs",
        String(ctx.options.runs),
        "--workdir",
        join(work, "data"),
        "--json",
        json,
      ],
      { cwd: ROOT },
    );
    const l = JSON.parse(readFileSync(json, "utf8")) as LayoutFigures;
    rmSync(work, { recursive: true, force: true });
    return { figures: layoutFigures(l), details: l as unknown as Record<string, unknown> };
  },
};
