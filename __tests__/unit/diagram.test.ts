/**
 * Architecture pages generated from the synthesized stacks: the picture follows the data from each
 * source to its queries with control, alarms and encryption on the boxes; every module is in the
 * inventory; new modules and opt-in services appear without an edit to the generator;
 * environments differ where their configs differ; the committed docs equal the generator's output.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Construct } from "constructs";
import { AthenaWorkgroup } from "@cdktf/provider-aws/lib/athena-workgroup";
import { RedshiftserverlessNamespace } from "@cdktf/provider-aws/lib/redshiftserverless-namespace";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { PlatformStack } from "../../modules/platform-stack";
import {
  BAD_INPUTS_PAGE,
  generatedDocs,
  orphanedPages,
  readCommitted,
  SECURITY_PAGE,
  SKIPS_BLOCK,
} from "../../scripts/docs";
import { API_BLOCK, CONFIG_BLOCK } from "../../scripts/lib/bad-input-docs";
import { replaceBlock } from "../../scripts/lib/readme-blocks";
import { buildDataFlow, renderDataFlow, type DataFlow } from "../../scripts/lib/data-flow";
import { buildDiagram, OPTIONAL_SERVICES, renderArchitectureDoc, SERVICES } from "../../scripts/lib/diagram";
import { ROOT } from "../../scripts/lib/terraform";
import { synthAllWithMetadata as synthAll, synthWithMetadata, TerraformJson } from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

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

/** The inventory rows of a page: module → what it holds. */
const inventoryRows = (doc: string) =>
  new Map(
    [...doc.split("## Inventory")[1].matchAll(/^\| ([^|]+) \| ([^|]+) \|$/gm)].map((m) => [m[1].trim(), m[2].trim()]),
  );

/** Stages reachable from a node, following the data. */
function reachable(flow: DataFlow, from: string): Set<string> {
  const seen = new Set([from]);
  const queue = [from];
  while (queue.length) {
    const id = defined(queue.shift(), "the next queued node");
    for (const e of flow.edges.filter((x) => x.from === id && !seen.has(x.to))) {
      seen.add(e.to);
      queue.push(e.to);
    }
  }
  return seen;
}

describe("architecture pages", () => {
  it.each(synthAll().map((e) => [e.config.name, e] as const))(
    "%s: the inventory lists every module present in the stack",
    (_name, { config, json }) => {
      const modules = modulesIn(json);
      expect(modules.length).toBeGreaterThan(0);
      expect(
        [...inventoryRows(renderArchitectureDoc(json, config)).keys()]
          .filter((m) => m !== "module" && m !== "---")
          .sort(),
      ).toEqual(modules);
    },
  );

  it.each(synthAll().map((e) => [e.config.name, e] as const))(
    "%s: the picture follows the data from every source through an engine and the zones to a query, with no box for keys, alarms or control",
    (_name, { json }) => {
      const flow = buildDataFlow(json);
      const byId = new Map(flow.nodes.map((n) => [n.id, n]));
      const sources = flow.nodes.filter((n) => n.stage === "source");
      expect(sources.length).toBeGreaterThan(0);
      for (const s of sources) {
        const stages = new Set(
          [...reachable(flow, s.id)].map((id) => defined(byId.get(id), `the diagram node ${id}`).stage),
        );
        expect({ source: s.title, stages: [...stages].sort() }).toEqual({
          source: s.title,
          stages: ["catalog", "engine", "query", "source", "zone"],
        });
      }
      // Every zone is written by some engine, and every edge runs forward or between engines and zones.
      for (const z of flow.nodes.filter((n) => n.stage === "zone"))
        expect({
          zone: z.title,
          written: flow.edges.some(
            (e) => e.to === z.id && defined(byId.get(e.from), `the diagram node ${e.from}`).stage === "engine",
          ),
        }).toEqual({ zone: z.title, written: true });
      const drawnTypes = new Set(flow.nodes.flatMap((n) => n.resources.map((a) => a.split(".")[0])));
      for (const type of [
        "aws_kms_key",
        "aws_cloudwatch_metric_alarm",
        "aws_sfn_state_machine",
        "aws_scheduler_schedule",
        "aws_pipes_pipe",
        "aws_cloudwatch_event_rule",
        "aws_sns_topic",
      ])
        expect(drawnTypes.has(type)).toBe(false);
    },
  );

  it("control, alarms and encryption are summarized on the boxes they concern", () => {
    const { json } = defined(
      synthAll().find((e) => e.config.name === "prod"),
      "the prod stack",
    );
    const flow = buildDataFlow(json);
    const jobs = json.resource.aws_glue_job as Record<string, unknown>;
    const engines = flow.nodes.filter((n) => n.stage === "engine");
    // Every Glue job is in exactly one box, and the boxes the pipelines run say so.
    expect(engines.flatMap((n) => n.resources.filter((a) => a.startsWith("aws_glue_job."))).sort()).toEqual(
      Object.keys(jobs)
        .map((k) => `aws_glue_job.${k}`)
        .sort(),
    );
    const started = engines.filter((n) => n.lines.includes("started by Step Functions"));
    expect(started.length).toBeGreaterThan(0);
    const machines = JSON.stringify(json.resource.aws_sfn_state_machine);
    for (const n of started) expect(n.resources.some((a) => machines.includes(a))).toBe(true);
    // A box's alarm count is the alarms that name its resources.
    const alarms = Object.values(json.resource.aws_cloudwatch_metric_alarm as Record<string, unknown>).map((a) =>
      JSON.stringify(a),
    );
    const lambda = defined(
      engines.find((n) => n.resources.some((a) => a.startsWith("aws_lambda_function."))),
      "the Lambda engine node",
    );
    const direct = alarms.filter((a) => lambda.resources.some((r) => a.includes(`\${${r}.`))).length;
    expect(direct).toBeGreaterThan(0);
    expect(lambda.lines.join(" ")).toContain(`${direct} alarm`);
    for (const z of flow.nodes.filter((n) => n.stage === "zone")) expect(z.lines[0]).toMatch(/^KMS ×1\b/);
  });

  it("a new module appears with no edit to the generator: known services in their layer and in the flow, unknown types in the inventory", () => {
    const config = defined(
      synthAll().find((e) => e.config.name === "dev"),
      "the dev stack",
    ).config;
    const json = synthWithMetadata(config, (stack: PlatformStack) => {
      // Module names no real module uses, so the fixture never collides with one that lands later.
      const analytics = new Construct(stack, "fixture-analytics");
      new AthenaWorkgroup(analytics, "workgroup", {
        name: "wg",
        configuration: {
          resultConfiguration: { outputLocation: `s3://${stack.lake.zones.consumer.bucket.bucketName}/results/` },
        },
      });
      new RedshiftserverlessNamespace(analytics, "namespace", { namespaceName: "ns" });
      new SsmParameter(new Construct(stack, "fixture-widgets"), "param", { name: "/x", type: "String", value: "y" });
    });

    const diagram = buildDiagram(json);
    const byModule = (m: string) =>
      diagram.nodes
        .filter((n) => n.module === m)
        .map((n) => `${n.layer}: ${n.label}`)
        .sort();
    expect(byModule("fixture-analytics")).toEqual(["analytics: Athena workgroups", "analytics: Redshift Serverless"]);
    expect(byModule("fixture-widgets")).toEqual(["other: 1 resource"]);
    // The workgroup writes results to the consumer zone: the flow gains that edge, which dev alone does not have.
    const edgesOf = (j: TerraformJson) => buildDataFlow(j).edges.map((e) => `${e.from}>${e.to}`);
    expect(edgesOf(json)).toContain("z_consumer>q_Athena");
    expect(
      edgesOf(
        defined(
          synthAll().find((e) => e.config.name === "dev"),
          "the dev stack",
        ).json,
      ),
    ).not.toContain("z_consumer>q_Athena");

    const rows = inventoryRows(renderArchitectureDoc(json, config));
    expect(rows.get("fixture-analytics")).toMatch(/^Athena workgroups ×1 · Redshift Serverless ×1 — 2 resources$/);
    expect(rows.get("fixture-widgets")).toBe("1 resource");
    const doc = renderArchitectureDoc(json, config);
    expect(doc).toMatch(/Redshift Serverless: \*\*on\*\*/);
    expect(doc).toMatch(/QuickSight: off/);
  });

  it("environments differ where their configs differ: partitioning and the protection of the zones", () => {
    const docs = synthAll().map(({ config, json }) => ({ config, json, doc: renderArchitectureDoc(json, config) }));
    expect(new Set(docs.map((d) => d.doc)).size).toBe(docs.length);
    for (const { config, json, doc } of docs) {
      const keys = /^\| partitioning \| (.+) \|$/m
        .exec(doc)?.[1]
        .split(" / ")
        .map((k) => k.split(" ")[0]);
      expect({ env: config.name, keys }).toEqual({
        env: config.name,
        keys: config.partitioning.keys.map((k) => k.name),
      });
      const zones = buildDataFlow(json).nodes.filter((n) => n.stage === "zone");
      expect(zones.length).toBeGreaterThan(0);
      for (const z of zones) {
        const text = z.lines.join(" ");
        expect({
          env: config.name,
          zone: z.title,
          preventDestroy: text.includes("prevent_destroy"),
          forceDestroy: text.includes("force_destroy"),
        }).toEqual({
          env: config.name,
          zone: z.title,
          preventDestroy: config.protection.preventDestroy,
          forceDestroy: config.protection.forceDestroy,
        });
      }
    }
  });

  it("an optional service is drawn exactly in the environments whose stack has it", () => {
    expect(OPTIONAL_SERVICES).toEqual(
      expect.arrayContaining(["EMR Serverless", "Lake Formation", "QuickSight", "Redshift Serverless"]),
    );
    for (const { config, json } of synthAll()) {
      const mermaid = renderDataFlow(buildDataFlow(json));
      for (const label of OPTIONAL_SERVICES) {
        const types = Object.entries(SERVICES)
          .filter(([, s]) => s.label === label)
          .map(([t]) => t);
        const inStack = types.some((t) => Object.keys(json.resource).includes(t));
        const drawn =
          label === "Lake Formation" ? mermaid.includes("Lake Formation grants") : mermaid.includes(`<b>${label}</b>`);
        expect({ env: config.name, label, drawn }).toEqual({ env: config.name, label, drawn: inStack });
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
    const pages = synthAll()
      .map((e) => `docs/architecture-${e.config.name}.md`)
      .sort();
    expect(
      Object.keys(expected)
        .filter((f) => f.startsWith("docs/architecture-"))
        .sort(),
    ).toEqual(pages);
    expect(
      orphanedPages(
        ROOT,
        synthAll().map((e) => e.config.name),
      ),
    ).toEqual([]);
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
    expect(() => generatedDocs(synthAll(), lost)).toThrow(
      `${SECURITY_PAGE} has no <!-- generated:${SKIPS_BLOCK}:start -->`,
    );
  });
});
