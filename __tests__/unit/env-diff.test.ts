/** `npm run env:diff`: what differs between two environments before a promotion. */
import { App } from "cdktf";
import { Construct } from "constructs";
import { IotThing } from "@cdktf/provider-aws/lib/iot-thing";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EnvironmentConfig, loadEnvironment } from "../../environments";
import { PlatformStack } from "../../modules/platform-stack";
import { diffEnvironments, flatten, renderDiff } from "../../scripts/lib/env-diff";
import { readStacks } from "../../scripts/lib/stacks";
import { defined } from "../../modules/shared/defined";

const outdir = mkdtempSync(join(tmpdir(), "env-diff-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const dev = loadEnvironment("dev");
const prod = loadEnvironment("prod");
// Real synth output of dev and prod, and of prod once more with one more service in a new module
// (as an opt-in service would add it), to see exactly that difference.
const app = new App({ outdir: join(outdir, "plain") });
new PlatformStack(app, dev);
new PlatformStack(app, prod);
app.synth();
const extended = new App({ outdir: join(outdir, "extended") });
const prodStack = new PlatformStack(extended, prod);
// A resource type the platform never creates, so the count goes 0 → 1 whatever modules exist.
new IotThing(new Construct(prodStack, "fixture-module"), "thing", { name: "fixture" });
extended.synth();
const stack = (dir: string, name: string) =>
  defined(
    readStacks(join(outdir, dir)).find((s) => s.name === name),
    `the ${name} stack in ${dir}`,
  );
const diff = diffEnvironments(
  { config: dev, stack: stack("plain", "dev") },
  { config: prod, stack: stack("plain", "prod") },
);
const added = diffEnvironments(
  { config: prod, stack: stack("plain", "prod") },
  { config: prod, stack: stack("extended", "prod") },
);

const json = (v: unknown) => JSON.stringify(v);

describe("env:diff", () => {
  it("flattens nested config to field paths, arrays by index", () => {
    expect(flatten({ a: { b: 1, c: [{ d: "x" }, "y"] }, e: [], f: {} })).toEqual({
      "a.b": "1",
      "a.c[0].d": '"x"',
      "a.c[1]": '"y"',
      e: "[]",
      f: "{}",
    });
  });

  it("lists each configuration field that differs with both values, and no field that is equal", () => {
    const at = (c: EnvironmentConfig, path: string) => flatten(c)[path];
    for (const field of [
      "tier",
      "accountId",
      "protection.forceDestroy",
      "protection.preventDestroy",
      "alarms.notify",
      "logs.retentionDays",
    ]) {
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
    expect(added.config).toEqual([]);
    expect(added.resourceTypes).toEqual([{ key: "aws_iot_thing", a: 0, b: 1 }]);
    expect(added.modules).toEqual([{ key: "fixture-module", a: 0, b: 1 }]);
    expect(added.totals.b).toBe(added.totals.a + 1);
    expect(added.bundles.problems).toEqual([]);
    expect(diff.bundles.problems).toEqual([]);
  });

  it("renders markdown a reviewer can read", () => {
    const md = renderDiff(diff);
    expect(md).toContain("## dev → prod: what differs");
    expect(md).toContain(`| \`protection.preventDestroy\` | \`false\` | \`true\` |`);
    expect(md).toContain(`| \`partitioning.keys[1].name\` | — | \`"region"\` |`);
    expect(md).toMatch(/asset reference\(s\) shared by both environments; all byte-identical\./);
    const addedMd = renderDiff(added);
    expect(addedMd).toContain("No configuration difference.");
    expect(addedMd).toContain("| `aws_iot_thing` | 0 | 1 | +1 |");
    expect(addedMd).toContain("| fixture-module | 0 | 1 |");
  });
});
