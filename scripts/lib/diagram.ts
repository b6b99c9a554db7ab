/**
 * Architecture pages generated from a synthesized stack: the data-flow picture (data-flow.ts), the
 * facts that differ per environment, and the inventory of every module.
 *
 * The inventory model lists nothing of the platform's own. Each resource's construct path
 * (`//.metadata.path` = "<stack>/<module>/<component>/...") gives its module; its Terraform type
 * gives its layer (sources → ingestion → lake zones → catalog → analytics, with orchestration and
 * alarms beside them). Storage-like types (S3 buckets, KMS keys, queues, topics, secrets) take the
 * layer of the module they sit in, so an Athena results bucket is counted under analytics, not as
 * a lake zone. Edges come from Terraform references between resources, including IAM grants. A
 * module whose types are all unknown still gets a node (under "Other"), so it is listed.
 */
import type { EnvironmentConfig } from "../../environments";
import { defined } from "../../modules/shared/defined";
import { buildDataFlow, renderDataFlow } from "./data-flow";
import { at, references, stackResources, type StackResource, type TerraformJson } from "./stacks";

export type Layer =
  "sources" | "ingestion" | "zones" | "catalog" | "analytics" | "orchestration" | "alarms" | "network" | "other";

interface LayerInfo {
  readonly title: string;
  /** Position in the data flow; undefined for layers beside the flow. */
  readonly rank?: number;
  /** Orchestration and alarms act on the data layers: their edges point at what they act on. */
  readonly control?: boolean;
}

export const LAYERS: Record<Layer, LayerInfo> = {
  sources: { title: "Sources", rank: 0 },
  ingestion: { title: "Ingestion", rank: 1 },
  zones: { title: "Lake zones", rank: 2 },
  catalog: { title: "Catalog", rank: 3 },
  analytics: { title: "Analytics", rank: 4 },
  orchestration: { title: "Orchestration", control: true },
  alarms: { title: "Alarms and dashboards", control: true },
  network: { title: "Network" },
  other: { title: "Other" },
};
const LAYER_ORDER = Object.keys(LAYERS) as Layer[];

export interface Service {
  readonly label: string;
  /** A fixed layer, or "module": the layer of the module the resource sits in (else `fallback`). */
  readonly layer: Layer | "module";
  readonly fallback?: Layer;
  /** One node per instance (each bucket is a zone) instead of one node per module. */
  readonly perInstance?: boolean;
  /** No edges to or from it (KMS keys are referenced by almost everything). */
  readonly noEdges?: boolean;
  /** Opt-in per environment: listed as on/off under each diagram. */
  readonly optional?: boolean;
}

/** Resource types drawn as nodes. Other types (IAM, bucket settings, aliases, ...) fold into a node of their component. */
export const SERVICES: Record<string, Service> = {
  aws_kinesis_stream: { label: "Kinesis stream", layer: "sources" },
  aws_glue_connection: { label: "Glue JDBC connection", layer: "sources" },
  aws_db_instance: { label: "RDS instance", layer: "sources" },
  aws_rds_cluster: { label: "RDS cluster", layer: "sources" },
  aws_secretsmanager_secret: { label: "Secrets Manager", layer: "module", fallback: "sources" },
  aws_dynamodb_table: { label: "DynamoDB table", layer: "module", fallback: "sources" },

  aws_lambda_function: { label: "Lambda function", layer: "ingestion", perInstance: true },
  aws_kinesis_firehose_delivery_stream: { label: "Firehose", layer: "ingestion" },
  aws_glue_job: { label: "Glue Spark jobs", layer: "ingestion" },
  aws_emrserverless_application: { label: "EMR Serverless", layer: "ingestion", optional: true },
  aws_kinesisanalyticsv2_application: { label: "Managed Flink (stream SQL)", layer: "ingestion", optional: true },

  aws_s3_bucket: { label: "S3 bucket", layer: "module", fallback: "zones", perInstance: true },
  aws_kms_key: { label: "KMS keys", layer: "module", fallback: "zones", noEdges: true },

  aws_glue_catalog_database: { label: "Glue databases", layer: "catalog" },
  aws_glue_catalog_table: { label: "Glue tables", layer: "catalog" },
  aws_glue_crawler: { label: "Glue crawlers", layer: "catalog" },
  aws_glue_security_configuration: { label: "Glue security configuration", layer: "catalog", noEdges: true },
  aws_glue_data_catalog_encryption_settings: { label: "Catalog encryption", layer: "catalog", noEdges: true },
  aws_lakeformation_data_lake_settings: { label: "Lake Formation", layer: "catalog", optional: true },
  aws_lakeformation_resource: { label: "Lake Formation", layer: "catalog", optional: true },
  aws_lakeformation_permissions: { label: "Lake Formation", layer: "catalog", optional: true },

  aws_athena_workgroup: { label: "Athena workgroups", layer: "analytics" },
  aws_athena_named_query: { label: "Athena named queries", layer: "analytics" },
  aws_redshiftserverless_namespace: { label: "Redshift Serverless", layer: "analytics", optional: true },
  aws_redshiftserverless_workgroup: { label: "Redshift Serverless", layer: "analytics", optional: true },
  aws_redshiftdata_statement: { label: "Redshift Serverless", layer: "analytics", optional: true },
  aws_quicksight_data_source: { label: "QuickSight", layer: "analytics", optional: true },
  aws_quicksight_data_set: { label: "QuickSight", layer: "analytics", optional: true },

  aws_sfn_state_machine: { label: "Step Functions", layer: "orchestration" },
  aws_cloudwatch_event_rule: { label: "EventBridge rules", layer: "orchestration" },
  aws_pipes_pipe: { label: "EventBridge Pipes", layer: "orchestration" },
  aws_scheduler_schedule: { label: "EventBridge Scheduler", layer: "orchestration" },
  aws_sns_topic: { label: "SNS topics", layer: "module", fallback: "orchestration" },
  aws_sqs_queue: { label: "SQS queues", layer: "module", fallback: "orchestration" },

  aws_cloudwatch_metric_alarm: { label: "CloudWatch alarms", layer: "alarms" },
  aws_cloudwatch_composite_alarm: { label: "CloudWatch alarms", layer: "alarms" },
  aws_cloudwatch_dashboard: { label: "CloudWatch dashboard", layer: "alarms" },

  aws_vpc: { label: "VPC", layer: "network" },
  aws_subnet: { label: "Private subnets", layer: "network" },
  aws_vpc_endpoint: { label: "VPC endpoints", layer: "network" },
  aws_security_group: { label: "Security groups", layer: "network" },
};

/** The optional (opt-in) services, by label. */
export const OPTIONAL_SERVICES: string[] = [
  ...new Set(
    Object.values(SERVICES)
      .filter((s) => s.optional)
      .map((s) => s.label),
  ),
].sort();

export interface DiagramNode {
  readonly id: string;
  readonly module: string;
  readonly layer: Layer;
  /** Service label (or the resource count for a module drawn under "Other"). */
  readonly label: string;
  /** The instance's component for per-instance nodes. */
  readonly instance?: string;
  readonly components: string[];
  readonly resources: string[];
  readonly annotations: string[];
}

export interface DiagramEdge {
  readonly from: string;
  readonly to: string;
  readonly dotted: boolean;
}

export interface Diagram {
  readonly nodes: DiagramNode[];
  readonly edges: DiagramEdge[];
  /** Modules found in the stack (from construct paths). */
  readonly modules: string[];
}

const sanitize = (s: string) => s.replace(/[^A-Za-z0-9]+/g, "_");

function moduleLayers(resources: readonly StackResource[]): Map<string, Layer> {
  const tally = new Map<string, Map<Layer, number>>();
  for (const r of resources) {
    const layer = SERVICES[r.type]?.layer;
    if (!layer || layer === "module") continue;
    const t = tally.get(r.module) ?? new Map<Layer, number>();
    t.set(layer, (t.get(layer) ?? 0) + 1);
    tally.set(r.module, t);
  }
  const out = new Map<string, Layer>();
  for (const [module, t] of tally) {
    const best = [...t.entries()].sort(
      (a, b) => b[1] - a[1] || LAYER_ORDER.indexOf(a[0]) - LAYER_ORDER.indexOf(b[0]),
    )[0];
    out.set(module, best[0]);
  }
  return out;
}

function commonPrefix(a: readonly string[], b: readonly string[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** Builds the diagram model of one stack. */
export function buildDiagram(json: TerraformJson): Diagram {
  const resources = stackResources(json);
  const primary = moduleLayers(resources);
  const nodes = new Map<string, { node: DiagramNode; service?: Service }>();
  const nodeOf = new Map<string, string>(); // resource address → node id
  const serviceResources: StackResource[] = [];

  for (const r of resources) {
    const service = SERVICES[r.type];
    if (!service) continue;
    const layer = service.layer === "module" ? (primary.get(r.module) ?? service.fallback ?? "other") : service.layer;
    const key = service.perInstance
      ? `${r.module}/${r.component}/${service.label}`
      : `${r.module}/${layer}/${service.label}`;
    const id = `n_${sanitize(key)}`;
    let entry = nodes.get(id);
    if (!entry) {
      entry = {
        service,
        node: {
          id,
          module: r.module,
          layer,
          label: service.label,
          instance: service.perInstance ? r.component : undefined,
          components: [],
          resources: [],
          annotations: [],
        },
      };
      nodes.set(id, entry);
    }
    const n = entry.node;
    if (!n.components.includes(r.component)) n.components.push(r.component);
    n.resources.push(r.address);
    if (at(r.body, "lifecycle", "prevent_destroy") === true && !n.annotations.includes("prevent_destroy"))
      n.annotations.push("prevent_destroy");
    if (r.body.force_destroy === true && !n.annotations.includes("force_destroy")) n.annotations.push("force_destroy");
    nodeOf.set(r.address, id);
    serviceResources.push(r);
  }

  // Supporting resources (IAM, bucket settings, ...) belong to the node of their closest component.
  for (const r of resources) {
    if (nodeOf.has(r.address)) continue;
    let best = 1;
    let candidates = new Set<string>();
    for (const s of serviceResources) {
      if (s.module !== r.module) continue;
      const node = defined(nodeOf.get(s.address), `the node of ${s.address}`);
      const len = commonPrefix(r.path, s.path);
      if (len > best) {
        best = len;
        candidates = new Set([node]);
      } else if (len === best && len > 1) candidates.add(node);
    }
    if (candidates.size === 1) nodeOf.set(r.address, [...candidates][0]);
  }

  // Every module is drawn, even one made only of types this file does not know.
  const modules = [...new Set(resources.map((r) => r.module))].sort();
  for (const module of modules) {
    if ([...nodes.values()].some((e) => e.node.module === module)) continue;
    const own = resources.filter((r) => r.module === module);
    const id = `n_${sanitize(`${module}/other`)}`;
    nodes.set(id, {
      node: {
        id,
        module,
        layer: "other",
        label: `${own.length} resource${own.length === 1 ? "" : "s"}`,
        components: [...new Set(own.map((r) => r.component))],
        resources: own.map((r) => r.address),
        annotations: [],
      },
    });
    for (const r of own) nodeOf.set(r.address, id);
  }

  const edges = new Map<string, DiagramEdge>();
  const byAddress = new Map(resources.map((r) => [r.address, r]));
  for (const r of resources) {
    const a = nodeOf.get(r.address);
    if (!a) continue;
    for (const ref of references(r.body)) {
      const b = byAddress.has(ref) ? nodeOf.get(ref) : undefined;
      if (!b || a === b) continue;
      const [ea, eb] = [defined(nodes.get(a), `diagram node ${a}`), defined(nodes.get(b), `diagram node ${b}`)];
      if (ea.service?.noEdges || eb.service?.noEdges) continue;
      const [la, lb] = [LAYERS[ea.node.layer], LAYERS[eb.node.layer]];
      if (ea.node.layer === "network" || eb.node.layer === "network") continue;
      let from = a;
      let to = b;
      let dotted = true;
      if (la.control && !lb.control) [from, to] = [a, b];
      else if (lb.control && !la.control) [from, to] = [b, a];
      else if (la.rank !== undefined && lb.rank !== undefined && la.rank !== lb.rank) {
        [from, to] = la.rank < lb.rank ? [a, b] : [b, a];
        dotted = false;
      }
      const key = `${from}->${to}`;
      if (!edges.has(key) && !edges.has(`${to}->${from}`)) edges.set(key, { from, to, dotted });
    }
  }

  const sortedNodes = [...nodes.values()]
    .map((e) => e.node)
    .sort((x, y) => LAYER_ORDER.indexOf(x.layer) - LAYER_ORDER.indexOf(y.layer) || x.id.localeCompare(y.id));
  return {
    nodes: sortedNodes,
    edges: [...edges.values()].sort((x, y) => `${x.from}>${x.to}`.localeCompare(`${y.from}>${y.to}`)),
    modules,
  };
}

/** "dt (day) / region (eu, us, apac)": the partition keys in path order. */
export function describePartitioning(config: EnvironmentConfig): string {
  return config.partitioning.keys
    .map((k) =>
      k.type === "date"
        ? `${k.name} (day)`
        : k.type === "hour"
          ? `${k.name} (hour)`
          : `${k.name} (${k.values.join(", ")})`,
    )
    .join(" / ");
}

/** `label ×n` for each service of a layer beside the data flow, across modules. */
function layerSummary(diagram: Diagram, layer: Layer): string {
  const counts = new Map<string, number>();
  // KMS keys are counted once, under encryption.
  for (const n of diagram.nodes.filter((x) => x.layer === layer && x.label !== SERVICES.aws_kms_key.label)) {
    const label = layer === "other" ? `${n.module} (${n.label})` : n.label;
    counts.set(label, (counts.get(label) ?? 0) + (layer === "other" ? 1 : n.resources.length));
  }
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, n]) => (layer === "other" ? label : `${label} ×${n}`))
    .join(" · ");
}

/** Facts listed under each diagram: what the picture summarizes, and where environments differ. */
export function environmentFacts(json: TerraformJson, config: EnvironmentConfig): [string, string][] {
  const resources = stackResources(json);
  const diagram = buildDiagram(json);
  const perModule = new Map<string, number>();
  for (const r of resources) perModule.set(r.module, (perModule.get(r.module) ?? 0) + 1);
  const protectedCount = resources.filter((r) => at(r.body, "lifecycle", "prevent_destroy") === true).length;
  const forceDestroy = resources.filter((r) => r.body.force_destroy === true).length;
  const present = new Set(resources.map((r) => SERVICES[r.type]?.label).filter(Boolean));
  const keys = resources.filter((r) => r.type === "aws_kms_key");
  const facts: [string, string][] = [
    ["account · region", `${config.accountId ?? "(caller's account)"} · ${config.region}`],
    [
      "modules",
      [...perModule]
        .sort()
        .map(([m, n]) => `${m} (${n})`)
        .join(", ") + ` — ${resources.length} resources`,
    ],
    ["partitioning", describePartitioning(config)],
    ["protection", `\`prevent_destroy\` on ${protectedCount} resources; \`force_destroy\` on ${forceDestroy}`],
    [
      "encryption",
      `${keys.length} KMS keys, rotation on for ${keys.filter((k) => k.body.enable_key_rotation === true).length}`,
    ],
    [
      "alarms",
      `${layerSummary(diagram, "alarms") || "none"}; notify: ${config.alarms.notify === "page" ? "page on-call" : "record only"}`,
    ],
  ];
  for (const layer of ["orchestration", "network", "other"] as const) {
    const summary = layerSummary(diagram, layer);
    if (summary) facts.push([LAYERS[layer].title.toLowerCase(), summary]);
  }
  facts.push([
    "optional services",
    OPTIONAL_SERVICES.map((s) => `${s}: ${present.has(s) ? "**on**" : "off"}`).join(" · "),
  ]);
  return facts;
}

/** What each module holds: its services and their resource counts (the inventory behind the picture). */
export function inventory(json: TerraformJson): [string, string][] {
  const diagram = buildDiagram(json);
  const total = new Map<string, number>();
  for (const r of stackResources(json)) total.set(r.module, (total.get(r.module) ?? 0) + 1);
  return diagram.modules.map((module) => {
    const counts = new Map<string, number>();
    for (const n of diagram.nodes.filter((x) => x.module === module && x.layer !== "other"))
      counts.set(n.label, (counts.get(n.label) ?? 0) + n.resources.length);
    const services = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([label, n]) => `${label} ×${n}`);
    const n = total.get(module) ?? 0;
    return [module, `${services.length ? `${services.join(" · ")} — ` : ""}${n} resource${n === 1 ? "" : "s"}`];
  });
}

export const GENERATED_NOTE =
  "Generated by `npm run docs:diagrams` from the synthesized stacks; do not edit by hand (`npm test` fails when it is stale).";

export function renderArchitectureDoc(json: TerraformJson, config: EnvironmentConfig): string {
  return [
    `# Architecture: ${config.name}`,
    "",
    `<!-- ${GENERATED_NOTE} -->`,
    "",
    `What the \`${config.name}\` stack deploys, drawn from \`cdktf.out/stacks/${config.name}/cdk.tf.json\`. Data flows left`,
    "to right: from each source through the engine that ingests it, the lake zones (cylinders), the",
    "Glue catalog and the queries. Engines of one kind with the same inputs and outputs share a box",
    "(×N). What encrypts, watches and starts a box is written on it — `KMS ×n` (the stack's keys it",
    "uses), its alarms, `started by …` — instead of drawn as arrows; the table below gives the rest.",
    "`npm run docs:render` draws it as a picture.",
    "",
    "```mermaid",
    renderDataFlow(buildDataFlow(json)),
    "```",
    "",
    "| | |",
    "| --- | --- |",
    ...environmentFacts(json, config).map(([k, v]) => `| ${k} | ${v} |`),
    "",
    "## Inventory",
    "",
    "Every module of the stack and the services it holds.",
    "",
    "| module | holds |",
    "| --- | --- |",
    ...inventory(json).map(([m, v]) => `| ${m} | ${v} |`),
    "",
  ].join("\n");
}
