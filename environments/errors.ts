/** One broken rule: which environment, which field (dotted path), what rule. */
export interface ConfigProblem {
  readonly environment: string;
  readonly field: string;
  readonly rule: string;
}

/**
 * Thrown when any environment configuration is invalid. Its message lists every problem,
 * one per line, as "<environment>: <field>: <rule>", so a pipeline log shows all fixes at once.
 */
export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `Invalid environment configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${formatProblem(p)}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.environment}: ${p.field}: ${p.rule}`;
}

/** Turns a zod path (["keys", 0, "name"]) into "keys[0].name". */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, part) => {
    if (typeof part === "number") return `${out}[${part}]`;
    return out === "" ? String(part) : `${out}.${String(part)}`;
  }, "");
}
