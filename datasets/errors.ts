/** One broken rule of a dataset contract: which dataset, which field (dotted path), what rule. */
export interface ContractProblem {
  readonly dataset: string;
  readonly field: string;
  readonly rule: string;
}

/**
 * A contract that breaks rules. Its message lists every problem, one per line, as
 * "<dataset>: <field>: <rule>"; synth prints it without a stack trace, like a configuration error.
 */
export class ContractError extends Error {
  constructor(readonly problems: readonly ContractProblem[]) {
    const datasets = [...new Set(problems.map((p) => p.dataset))].join(", ");
    super(
      `Invalid dataset contract ${datasets} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${formatContractProblem(p)}`).join("\n"),
    );
    this.name = "ContractError";
  }
}

export function formatContractProblem(p: ContractProblem): string {
  return `${p.dataset}: ${p.field}: ${p.rule}`;
}

/** A problem before it is attributed to a dataset: a field and its rule. */
export type FieldProblem = Omit<ContractProblem, "dataset">;

/** A value as messages quote it. */
export function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/** A zod error callback: "is required" when missing, otherwise the rule plus the offending value. */
export function rule(message: string, whenMissing = "is required") {
  return (issue: { readonly input?: unknown }) =>
    issue.input === undefined ? whenMissing : `${message} (got ${show(issue.input)})`;
}
