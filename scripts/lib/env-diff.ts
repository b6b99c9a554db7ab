/**
 * What differs between two environments before a promotion: configuration (flattened field paths
 * with both values), resource counts by type and by module, and asset bundles.
 */
import type { EnvironmentConfig } from "../../environments";
import { compareAssets } from "./assets";
import { countByModule, countByType, type SynthesizedStack } from "./stacks";

/** Flattens a value to "a.b[0].c" → JSON-printed leaf value. Empty objects and arrays are leaves. */
export function flatten(value: unknown, prefix = "", out: Record<string, string> = {}): Record<string, string> {
  if (Array.isArray(value) && value.length > 0) value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
  else if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (value !== undefined) out[prefix] = JSON.stringify(value);
  return out;
}

export interface FieldDifference {
  readonly field: string;
  /** JSON of the value, or undefined when the field is absent in that environment. */
  readonly a?: string;
  readonly b?: string;
}

export interface CountDifference {
  readonly key: string;
  readonly a: number;
  readonly b: number;
}

export interface EnvironmentDiff {
  readonly a: string;
  readonly b: string;
  readonly config: FieldDifference[];
  readonly resourceTypes: CountDifference[];
  readonly modules: CountDifference[];
  readonly totals: { a: number; b: number };
  /** Asset references used by both environments, and problems (bytes differ, file missing). */
  readonly bundles: { shared: number; problems: string[] };
}

function diffCounts(a: Record<string, number>, b: Record<string, number>): CountDifference[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .sort()
    .map((key) => ({ key, a: a[key] ?? 0, b: b[key] ?? 0 }))
    .filter((d) => d.a !== d.b);
}

export function diffEnvironments(
  a: { config: EnvironmentConfig; stack: SynthesizedStack },
  b: { config: EnvironmentConfig; stack: SynthesizedStack },
): EnvironmentDiff {
  const fa = flatten(a.config);
  const fb = flatten(b.config);
  const config = [...new Set([...Object.keys(fa), ...Object.keys(fb)])]
    .sort()
    .filter((field) => fa[field] !== fb[field])
    .map((field) => ({ field, a: fa[field], b: fb[field] }));
  const ta = countByType(a.stack.json);
  const tb = countByType(b.stack.json);
  const assets = compareAssets([a.stack, b.stack]);
  return {
    a: a.config.name,
    b: b.config.name,
    config,
    resourceTypes: diffCounts(ta, tb),
    modules: diffCounts(countByModule(a.stack.json), countByModule(b.stack.json)),
    totals: { a: Object.values(ta).reduce((x, y) => x + y, 0), b: Object.values(tb).reduce((x, y) => x + y, 0) },
    bundles: {
      shared: assets.assets.filter((x) => Object.keys(x.sha256).length === 2).length,
      problems: assets.problems,
    },
  };
}

const cell = (v: string | undefined) => (v === undefined ? "—" : `\`${v.replace(/\|/g, "\\|")}\``);

export function renderDiff(d: EnvironmentDiff): string {
  const lines = [`## ${d.a} → ${d.b}: what differs`, ""];
  lines.push(`### Configuration (${d.config.length} fields differ)`, "");
  if (d.config.length === 0) lines.push("No configuration difference.", "");
  else {
    lines.push(`| field | ${d.a} | ${d.b} |`, "| --- | --- | --- |");
    for (const f of d.config) lines.push(`| \`${f.field}\` | ${cell(f.a)} | ${cell(f.b)} |`);
    lines.push("");
  }
  lines.push(`### Resources (${d.totals.a} in ${d.a}, ${d.totals.b} in ${d.b})`, "");
  if (d.resourceTypes.length === 0) lines.push("The same number of resources of every type.", "");
  else {
    lines.push(`| resource type | ${d.a} | ${d.b} | change |`, "| --- | ---: | ---: | ---: |");
    for (const c of d.resourceTypes)
      lines.push(`| \`${c.key}\` | ${c.a} | ${c.b} | ${c.b - c.a > 0 ? "+" : ""}${c.b - c.a} |`);
    lines.push("");
  }
  if (d.modules.length > 0) {
    lines.push(`| module | ${d.a} | ${d.b} |`, "| --- | ---: | ---: |");
    for (const c of d.modules) lines.push(`| ${c.key} | ${c.a} | ${c.b} |`);
    lines.push("");
  }
  lines.push("### Bundles", "");
  if (d.bundles.problems.length > 0) lines.push(...d.bundles.problems.map((p) => `- ❌ ${p}`), "");
  else lines.push(`${d.bundles.shared} asset reference(s) shared by both environments; all byte-identical.`, "");
  return `${lines.join("\n").trimEnd()}\n`;
}
