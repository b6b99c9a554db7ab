/** `npm run env:diff`: what differs between two environments before a promotion. */
import { App } from "cdktf";
import { Construct } from "constructs";
import { RedshiftserverlessNamespace } from "@cdktf/provider-aws/lib/redshiftserverless-namespace";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EnvironmentConfig, loadEnvironment } from "../../environments";
import { PlatformStack } from "../../modules/platform-stack";
import { diffEnvironments, flatten, renderDiff } from "../../scripts/lib/env-diff";
import { readStacks } from "../../scripts/lib/stacks";

const outdir = mkdtempSync(join(tmpdir(), "env-diff-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const dev = loadEnvironment("dev");
const prod = loadEnvironment("prod");
// Real synth output of dev and prod; prod also gets an opt-in service, as a module would add it.
const app = new App({ outdir });
new PlatformStack(app, dev);
const prodStack = new PlatformStack(app, prod);
new RedshiftserverlessNamespace(new Construct(prodStack, "analytics"), "namespace", { namespaceName: "ns" });
app.synth();
const stacks = readStacks(outdir);
const stack = (name: string) => stacks.find((s) => s.name === name)!;
const diff = diffEnvironments({ config: dev, stack: stack("dev") }, { config: prod, stack: stack("prod") });

const json = (v: unknown) => JSON.stringify(v);

describe("env:diff", () => {
  it("flattens nested config to field paths, arrays by index", () => {
    expect(flatten({ a: { b: 1, c: [{ d: "x" }, "y"] }, e: [], f: {} })).toEqual({ "a.b": "1", "a.c[0].d": '"x"', "a.c[1]": '"y"', e: "[]", f: "{}" });
  });

  it("lists each configuration field that differs with both values, and no field that is equal", () => {
    const at = (c: EnvironmentConfig, path: string) => flatten(c)[path];
    for (const field of ["tier", "accountId", "protection.forceDestroy", "protection.preventDestroy", "alarms.notify", "logs.retentionDays"]) {
      expect(diff.config).toContainEqual({ field, a: at(dev, field), b: at(prod, field) });
    }
    expect(diff.config).toContainEqual({ field: "protection.preventDestroy", a: json(false), b: json(true) });
    // A partition key only prod has: absent in dev.
    expect(diff.config).toContainEqual({ field: "partitioning.keys[1].name", a: undefined, b: json("region") });
    expect(diff.config.map((f) => f.field)).not.toContain("region");
    expect(diff.config.map((f) => f.field)).not.toContain("project");
    expect(diff.config.every((f) => f.a !== f.b)).toBe(true);
  });

  it("shows resource counts by type and by module where they differ", () => {
    expect(diff.resourceTypes).toEqual([{ key: "aws_redshiftserverless_namespace", a: 0, b: 1 }]);
    expect(diff.modules).toEqual([{ key: "analytics", a: 0, b: 1 }]);
    expect(diff.totals.b).toBe(diff.totals.a + 1);
    expect(diff.bundles.problems).toEqual([]);
  });

  it("renders markdown a reviewer can read", () => {
    const md = renderDiff(diff);
    expect(md).toContain("## dev → prod: what differs");
    expect(md).toContain(`| \`protection.preventDestroy\` | \`false\` | \`true\` |`);
    expect(md).toContain(`| \`partitioning.keys[1].name\` | — | \`"region"\` |`);
    expect(md).toContain("| `aws_redshiftserverless_namespace` | 0 | 1 | +1 |");
    expect(md).toContain("| analytics | 0 | 1 |");
    expect(md).toContain("0 asset reference(s) shared by both environments; all byte-identical.");
  });
});
