/**
 * Architecture diagrams generated from the synthesized stacks: every module present is drawn, new
 * modules and opt-in services appear without an edit to the generator, environments differ where
 * their configs differ, and the committed docs equal the generator's output.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Construct } from "constructs";
import { AthenaWorkgroup } from "@cdktf/provider-aws/lib/athena-workgroup";
import { RedshiftserverlessNamespace } from "@cdktf/provider-aws/lib/redshiftserverless-namespace";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { PlatformStack } from "../../modules/platform-stack";
import { BAD_INPUTS_PAGE, generatedDocs, orphanedPages, readCommitted, SECURITY_PAGE, SKIPS_BLOCK } from "../../scripts/docs";
import { API_BLOCK, CONFIG_BLOCK } from "../../scripts/lib/bad-input-docs";
import { replaceBlock } from "../../scripts/lib/readme-blocks";
import { buildDiagram, OPTIONAL_SERVICES, renderArchitectureDoc, renderMermaid, SERVICES } from "../../scripts/lib/diagram";
import { ROOT } from "../../scripts/lib/terraform";
import { synthAllWithMetadata as synthAll, synthWithMetadata, TerraformJson } from "../helpers/synth";

/** Modules of a stack, read straight from the construct paths (independently of the generator). */
function modulesIn(json: TerraformJson): string[] {
  const modules = new Set<string>();
  for (const byName of Object.values(json.resource)) {
    for (const body of Object.values(byName)) {
      const path: string = body["//"].metadata.path;
      modules.add(path.split("/")[1]);
    }
  }
  return [...modules].sort();
}

const nodeTitles = (mermaid: string) => [...mermaid.matchAll(/\["<b>([^·<]+) · /g)].map((m) => m[1].trim());

describe("architecture diagrams", () => {
  it.each(synthAll().map((e) => [e.config.name, e] as const))("%s: the diagram draws every module present in the stack", (_name, { config, json }) => {
    const modules = modulesIn(json);
    expect(modules.length).toBeGreaterThan(0);
    const drawn = new Set(nodeTitles(renderMermaid(buildDiagram(json), config)));
    expect(modules.filter((m) => !drawn.has(m))).toEqual([]);
  });

  it("a new module appears with no edit to the generator: known services in their layer with their edges, unknown types under Other", () => {
    const config = synthAll().find((e) => e.config.name === "dev")!.config;
    const json = synthWithMetadata(config, (stack: PlatformStack) => {
      // Module names no real module uses, so the fixture never collides with one that lands later.
      const analytics = new Construct(stack, "fixture-analytics");
      new AthenaWorkgroup(analytics, "workgroup", {
        name: "wg",
        configuration: { resultConfiguration: { outputLocation: `s3://${stack.lake.zones.consumer.bucket.bucketName}/results/` } },
      });
      new RedshiftserverlessNamespace(analytics, "namespace", { namespaceName: "ns" });
      new SsmParameter(new Construct(stack, "fixture-widgets"), "param", { name: "/x", type: "String", value: "y" });
    });

    const diagram = buildDiagram(json);
    const byModule = (m: string) => diagram.nodes.filter((n) => n.module === m).map((n) => `${n.layer}: ${n.label}`).sort();
    expect(byModule("fixture-analytics")).toEqual(["analytics: Athena workgroups", "analytics: Redshift Serverless"]);
    expect(byModule("fixture-widgets")).toEqual(["other: 1 resource"]);
    // The workgroup writes results to the consumer bucket: a data-flow edge from the zone to analytics.
    const consumer = diagram.nodes.find((n) => n.module === "lake" && n.instance === "consumer")!;
    const workgroup = diagram.nodes.find((n) => n.module === "fixture-analytics" && n.label === "Athena workgroups")!;
    expect(diagram.edges).toContainEqual({ from: consumer.id, to: workgroup.id, dotted: false });

    const doc = renderArchitectureDoc(json, config);
    expect(nodeTitles(doc).sort()).toEqual(expect.arrayContaining(["fixture-analytics", "fixture-widgets", "lake"]));
    expect(doc).toMatch(/Redshift Serverless: \*\*on\*\*/);
    expect(doc).toMatch(/QuickSight: off/);
  });

  it("dev and prod differ where their configs differ: partitioning and the protection of data buckets", () => {
    const docs = Object.fromEntries(synthAll().map(({ config, json }) => [config.name, { config, doc: renderArchitectureDoc(json, config) }]));
    expect(docs.dev.doc).not.toEqual(docs.prod.doc);
    for (const { config, doc } of Object.values(docs)) {
      const title = /subgraph zones\["Lake zones · partitioned by ([^"]+)"\]/.exec(doc)?.[1];
      expect({ env: config.name, keys: title?.split(" / ").map((k) => k.split(" ")[0]) }).toEqual({ env: config.name, keys: config.partitioning.keys.map((k) => k.name) });
      const buckets = doc.split("\n").filter((l) => l.includes("<br/>S3 bucket"));
      expect(buckets.length).toBeGreaterThan(0);
      for (const line of buckets) {
        expect({ env: config.name, line, preventDestroy: line.includes("prevent_destroy") }).toEqual({ env: config.name, line, preventDestroy: config.protection.preventDestroy });
        expect({ env: config.name, line, forceDestroy: line.includes("force_destroy") }).toEqual({ env: config.name, line, forceDestroy: config.protection.forceDestroy });
      }
    }
  });

  it("an optional service's node is drawn exactly in the environments whose stack has it", () => {
    expect(OPTIONAL_SERVICES).toEqual(expect.arrayContaining(["EMR Serverless", "QuickSight", "Redshift Serverless"]));
    for (const { config, json } of synthAll()) {
      const mermaid = renderMermaid(buildDiagram(json), config);
      for (const label of OPTIONAL_SERVICES) {
        const types = Object.entries(SERVICES).filter(([, s]) => s.label === label).map(([t]) => t);
        const inStack = types.some((t) => Object.keys(json.resource).includes(t));
        expect({ env: config.name, label, drawn: mermaid.includes(` · ${label}</b>`) }).toEqual({ env: config.name, label, drawn: inStack });
      }
    }
  });
});

describe("generated docs are committed and current", () => {
  const expected = generatedDocs(synthAll(), readCommitted);

  it.each(Object.keys(expected))("%s equals the generator's output (run `npm run docs:diagrams`)", (rel) => {
    const path = join(ROOT, rel);
    expect(existsSync(path)).toBe(true);
    expect(readFileSync(path, "utf8")).toBe(expected[rel]);
  });

  it("there is one architecture page per environment and none for a removed one; the README links each", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const pages = synthAll().map((e) => `docs/architecture-${e.config.name}.md`).sort();
    expect(Object.keys(expected).filter((f) => f.startsWith("docs/architecture-")).sort()).toEqual(pages);
    expect(orphanedPages(ROOT, synthAll().map((e) => e.config.name))).toEqual([]);
    for (const page of pages) expect(readme).toContain(`](${page})`);
  });

  it.each([
    [SECURITY_PAGE, SKIPS_BLOCK],
    [BAD_INPUTS_PAGE, CONFIG_BLOCK],
    [BAD_INPUTS_PAGE, API_BLOCK],
  ])("a stale %s block %s is detected and regenerated", (page, block) => {
    const stale = (rel: string) => (rel === page ? replaceBlock(readCommitted(rel), block, "old") : readCommitted(rel));
    expect(generatedDocs(synthAll(), stale)[page]).not.toBe(stale(page));
    expect(generatedDocs(synthAll(), stale)[page]).toBe(readCommitted(page));
  });

  it("a page that lost its block fails generation, naming the page and the block", () => {
    const lost = (rel: string) => (rel === SECURITY_PAGE ? "# Security\n" : readCommitted(rel));
    expect(() => generatedDocs(synthAll(), lost)).toThrow(`${SECURITY_PAGE} has no <!-- generated:${SKIPS_BLOCK}:start -->`);
  });
});
