/**
 * The linters' rules hold everywhere; where one does not fit, the exception is inline, on the line
 * it excuses, and says why. A bare `eslint-disable` or `# noqa` tells the next reader nothing.
 * (Stale exceptions fail the linters themselves: eslint's `reportUnusedDisableDirectives`, ruff's RUF100.)
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../scripts/lib/terraform";
import { repositoryFiles } from "../helpers/repository";

const SELF = "__tests__/unit/lint-exceptions.test.ts";
const files = repositoryFiles().filter((f) => !f.startsWith("node_modules/") && f !== SELF);

/** Every line of the files matching `extension` that holds `marker`, as "file:line: text". */
function linesWith(extension: RegExp, marker: RegExp): { where: string; text: string }[] {
  return files
    .filter((f) => extension.test(f))
    .flatMap((file) =>
      readFileSync(join(ROOT, file), "utf8")
        .split("\n")
        .map((text, i) => ({ where: `${file}:${i + 1}`, text: text.trim() }))
        .filter(({ text }) => marker.test(text)),
    );
}

describe("inline lint exceptions", () => {
  it("every eslint-disable names its rule and, after `--`, its reason", () => {
    const directives = linesWith(/\.(ts|mts|js|mjs)$/, /(\/\/|\/\*)\s*eslint-disable/);
    expect(directives.length).toBeGreaterThan(0);
    const bare = directives.filter(
      ({ text }) => !/eslint-disable(?:-next-line|-line)?\s+[@\w/-]+(?:,\s*[@\w/-]+)*\s+--\s+\S/.test(text),
    );
    expect(bare.map(({ where, text }) => `${where}: ${text}`)).toEqual([]);
  });

  it("every # noqa names its codes and, after ` - `, its reason", () => {
    const comments = linesWith(/\.py$/, /#\s*noqa/i);
    expect(comments.length).toBeGreaterThan(0);
    const bare = comments.filter(({ text }) => !/#\s*noqa:\s*[A-Z]+\d+(?:,\s*[A-Z]+\d+)*\s+-\s+\S/.test(text));
    expect(bare.map(({ where, text }) => `${where}: ${text}`)).toEqual([]);
  });
});
