/**
 * The benchmark's pure side: medians, ratios, targets, the printed table and the JSON file.
 * Nothing here measures; `measure.ts` and the sections do.
 */

export type Unit = "s" | "ms" | "MB" | "bytes" | "files" | "%";

/** What a figure is held to: a ratio to its yardstick, or an absolute limit. */
export interface Target {
  /** The figure divided by its yardstick must be at most (or, with `strict`, under) this. */
  readonly maxRatio?: number;
  /** The figure itself must be at most (or, with `strict`, under) this, in its own unit. */
  readonly max?: number;
  /** `<` instead of `≤`. */
  readonly strict?: boolean;
}

export interface Yardstick {
  readonly name: string;
  /** Median of `samples`. */
  readonly value: number;
  readonly samples: readonly number[];
}

export interface Figure {
  /** Section id (`synth`, `tests`, …). */
  readonly section: string;
  /** What was measured, e.g. "cdktf synth, all environments: wall". */
  readonly name: string;
  readonly unit: Unit;
  /** Median of `samples`. */
  readonly value: number;
  readonly samples: readonly number[];
  readonly yardstick?: Yardstick;
  /** value / yardstick.value */
  readonly ratio?: number;
  readonly target?: Target;
  /** Whether the target holds (absent when the figure has no target). */
  readonly met?: boolean;
  /** One line of context (what limits it, what was counted). */
  readonly note?: string;
}

/** The median of a non-empty list (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  if (values.some((v) => !Number.isFinite(v))) throw new Error(`median of non-finite values: ${values.join(", ")}`);
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** a / b; undefined when b is zero (a yardstick of nothing has no ratio). */
export function ratio(a: number, b: number): number | undefined {
  return b === 0 ? undefined : a / b;
}

/** Whether `value` (and its ratio) meet `target`. */
export function meets(target: Target, value: number, r: number | undefined): boolean {
  const ok = (x: number, limit: number) => (target.strict ? x < limit : x <= limit);
  if (target.maxRatio !== undefined && (r === undefined || !ok(r, target.maxRatio))) return false;
  if (target.max !== undefined && !ok(value, target.max)) return false;
  return true;
}

/** Builds a figure from raw samples: medians, ratio and the target's verdict. */
export function figure(input: {
  section: string;
  name: string;
  unit: Unit;
  samples: readonly number[];
  yardstick?: { name: string; samples: readonly number[] };
  target?: Target;
  note?: string;
}): Figure {
  const value = median(input.samples);
  const yardstick = input.yardstick && {
    name: input.yardstick.name,
    samples: [...input.yardstick.samples],
    value: median(input.yardstick.samples),
  };
  const r = yardstick ? ratio(value, yardstick.value) : undefined;
  return {
    section: input.section,
    name: input.name,
    unit: input.unit,
    value,
    samples: [...input.samples],
    ...(yardstick ? { yardstick } : {}),
    ...(r !== undefined ? { ratio: r } : {}),
    ...(input.target ? { target: input.target, met: meets(input.target, value, r) } : {}),
    ...(input.note ? { note: input.note } : {}),
  };
}

/** A value in its unit, compactly: "1.23 s", "45 ms", "281 MB", "1.8 MB" (bytes), "0.41 %". */
export function formatValue(value: number, unit: Unit): string {
  switch (unit) {
    case "s":
      return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} s`;
    case "ms":
      return `${value < 10 ? value.toFixed(1) : value.toFixed(0)} ms`;
    case "MB":
      return `${value.toFixed(0)} MB`;
    case "bytes":
      return formatBytes(value);
    case "files":
      return Number.isInteger(value) ? `${value}` : value.toFixed(2);
    case "%":
      return `${value < 1 ? value.toFixed(2) : value.toFixed(1)} %`;
  }
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB"];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${units[i]}`;
}

export function formatRatio(r: number | undefined): string {
  if (r === undefined) return "";
  return r < 0.1 ? `${(r * 100).toFixed(2)} %` : `${r.toFixed(2)}×`;
}

export function formatTarget(target: Target | undefined, unit: Unit): string {
  if (!target) return "";
  const op = target.strict ? "<" : "≤";
  const parts: string[] = [];
  if (target.maxRatio !== undefined)
    parts.push(target.maxRatio < 0.1 ? `${op} ${+(target.maxRatio * 100).toFixed(2)} %` : `${op} ${target.maxRatio}×`);
  if (target.max !== undefined) parts.push(`${op} ${formatValue(target.max, unit)}`);
  return parts.join(", ");
}

const HEADERS = ["figure", "median", "yardstick", "median", "ratio", "target", ""] as const;

/** One row of cells per figure, in HEADERS order. */
export function rows(figures: readonly Figure[]): string[][] {
  return figures.map((f) => [
    f.name,
    formatValue(f.value, f.unit),
    f.yardstick?.name ?? "",
    f.yardstick ? formatValue(f.yardstick.value, f.unit) : "",
    formatRatio(f.ratio),
    formatTarget(f.target, f.unit),
    f.met === undefined ? "" : f.met ? "met" : "MISSED",
  ]);
}

/** A plain-text table, columns padded, one block per section with its heading. */
export function renderTable(figures: readonly Figure[], titles: Record<string, string> = {}): string {
  const cells = rows(figures);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === 1 || i === 3 || i === 4 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  const out: string[] = [line(HEADERS), widths.map((w) => "-".repeat(w)).join("  ")];
  let section: string | undefined;
  figures.forEach((f, i) => {
    if (f.section !== section) {
      section = f.section;
      out.push(`[${titles[section] ?? section}]`);
    }
    out.push(line(cells[i]));
  });
  return out.join("\n");
}

/** The same table as Markdown (for docs/performance.md). */
export function renderMarkdown(figures: readonly Figure[], titles: Record<string, string> = {}): string {
  const cells = rows(figures);
  const esc = (c: string) => c.replace(/\|/g, "\\|");
  const out = [
    `| ${HEADERS.join(" | ")} |`,
    `| ${HEADERS.map((_, i) => (i === 1 || i === 3 || i === 4 ? "---:" : "---")).join(" | ")} |`,
  ];
  let section: string | undefined;
  figures.forEach((f, i) => {
    if (f.section !== section) {
      section = f.section;
      out.push(`| **${esc(titles[section] ?? section)}** | | | | | | |`);
    }
    out.push(`| ${cells[i].map((c, j) => esc(j === 6 && c === "MISSED" ? "**missed**" : c)).join(" | ")} |`);
  });
  return out.join("\n");
}

/** Round to `digits` significant decimals for the JSON (raw samples keep their precision). */
export function round(value: number, digits = 4): number {
  return Number(value.toFixed(digits));
}
