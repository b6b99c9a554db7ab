/**
 * The value, or an error that says what was missing: what a non-null assertion (`x!`) would
 * assume silently. For lookups whose absence is a bug (a key just written, an element a test just
 * made), so the failure names the thing instead of surfacing later as "cannot read properties of
 * undefined".
 */
export function defined<T>(value: T | null | undefined, what: string): T {
  if (value === undefined || value === null) throw new Error(`${what} is missing`);
  return value;
}
