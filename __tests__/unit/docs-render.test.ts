/**
 * The render script's own logic (rendering itself needs chromium and is run by hand with
 * `npm run docs:render`): which diagrams it finds, and the error a missing browser gives.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromiumPath, mermaidBlocks } from "../../scripts/docs-render";
import { ROOT } from "../../scripts/lib/terraform";

describe("docs:render", () => {
  it("finds each Mermaid block of a page, and only those", () => {
    const page =
      "# T\n\n```mermaid\nflowchart LR\n  a --> b\n```\n\n```sh\nnpm test\n```\n\n```mermaid\nflowchart TB\n  c\n```\n";
    expect(mermaidBlocks(page)).toEqual(["flowchart LR\n  a --> b\n", "flowchart TB\n  c\n"]);
    expect(mermaidBlocks(readFileSync(join(ROOT, "docs", "architecture-prod.md"), "utf8"))).toHaveLength(1);
  });

  it("a missing browser fails with how to install it", () => {
    expect(() => chromiumPath({ CHROMIUM_PATH: "/nonexistent/chromium" })).toThrow(
      "/nonexistent/chromium is missing: install Debian's chromium (as root: `apt-get update && apt-get install -y chromium`) or set CHROMIUM_PATH",
    );
  });
});
