/**
 * The data flow of a synthesized stack, as a picture a person reads left to right: each source,
 * the engine that ingests it, the lake zones, the catalog and the queries. Control (schedules,
 * state machines, events), alarms and encryption are summarized on the boxes they concern instead
 * of drawn as edges.
 *
 * Nothing here lists the platform's modules or datasets; everything is read from the stack:
 *  - zones are the buckets the Glue catalog points at (database locations, crawler targets);
 *  - engines are the resources that run code or deliver data (Lambda, Glue jobs and crawlers,
 *    Firehose, EMR Serverless), and what they read and write comes from their roles' policies
 *    (s3:GetObject = reads, s3:PutObject = writes; a bucket an engine writes is not also drawn as
 *    its input). Engines of one kind with the same inputs and outputs share a box (×N);
 *  - sources are the streams and connections engines reference, and services outside the stack
 *    their roles reach (DynamoDB) or their configuration calls (HTTP APIs);
 *  - queries are the Athena, Redshift and QuickSight resources that reference the catalog.
 */
import { defined } from "../../modules/shared/defined";
import { at, references, stackResources, type StackResource, type TerraformJson } from "./stacks";

export type Stage = "source" | "engine" | "zone" | "catalog" | "query";

export interface FlowNode {
  readonly id: string;
  readonly stage: Stage;
  readonly title: string;
  /** Summary lines: encryption, alarms, what starts it, what else it uses. */
  readonly lines: string[];
  /** Addresses of the stack resources the box stands for (empty for sources outside the stack). */
  readonly resources: string[];
}

export interface FlowEdge {
  readonly from: string;
  readonly to: string;
}

export interface DataFlow {
  readonly nodes: FlowNode[];
  readonly edges: FlowEdge[];
}

/** Resource types that run code or deliver data, and the box title of each. */
export const ENGINES: Record<string, string> = {
  aws_lambda_function: "Lambda",
  aws_kinesis_firehose_delivery_stream: "Firehose",
  aws_glue_job: "Glue Spark jobs",
  aws_emrserverless_application: "EMR Serverless",
  aws_kinesisanalyticsv2_application: "Managed Flink (stream SQL)",
  aws_glue_crawler: "Glue crawlers",
};

/** Query services, by resource type. */
export const QUERIES: Record<string, string> = {
  aws_athena_workgroup: "Athena",
  aws_athena_named_query: "Athena",
  aws_redshiftserverless_namespace: "Redshift Serverless",
  aws_redshiftserverless_workgroup: "Redshift Serverless",
  aws_redshiftdata_statement: "Redshift Serverless",
  aws_quicksight_data_source: "QuickSight",
  aws_quicksight_data_set: "QuickSight",
};

/** In-stack sources, by resource type. */
const SOURCES: Record<string, string> = {
  aws_kinesis_stream: "Kinesis streams",
  aws_glue_connection: "JDBC databases (Glue connection)",
};

/** What starts an engine, by the type of the resource that references it. */
const STARTERS: Record<string, string> = {
  aws_sfn_state_machine: "Step Functions",
  aws_scheduler_schedule: "EventBridge Scheduler",
  aws_glue_trigger: "Glue triggers",
  aws_pipes_pipe: "EventBridge Pipes",
};

const ALARM_TYPES = new Set(["aws_cloudwatch_metric_alarm", "aws_cloudwatch_composite_alarm"]);
const CATALOG_POINTERS = new Set(["aws_glue_catalog_database", "aws_glue_crawler"]);

const sanitize = (s: string) => s.replace(/[^A-Za-z0-9]+/g, "_");
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const count = (title: string, n: number) => (n > 1 ? `${title} ×${n}` : title);

interface Access {
  readonly reads: Set<string>;
  readonly writes: Set<string>;
  /** AWS services outside the stack the policy reaches (by action prefix). */
  readonly outside: Set<string>;
  readonly secrets: Set<string>;
}

/** What each role may read and write, from its inline policies. */
function roleAccess(resources: readonly StackResource[], inStack: ReadonlySet<string>): Map<string, Access> {
  const out = new Map<string, Access>();
  for (const r of resources) {
    if (r.type !== "aws_iam_role_policy" || typeof r.body.policy !== "string") continue;
    const role = references(r.body.role).find((a) => a.startsWith("aws_iam_role."));
    if (!role) continue;
    const access = out.get(role) ?? { reads: new Set(), writes: new Set(), outside: new Set(), secrets: new Set() };
    out.set(role, access);
    let statements: { Effect?: string; Action?: string | string[]; Resource?: string | string[] }[];
    try {
      statements = [JSON.parse(r.body.policy).Statement].flat();
    } catch {
      continue; // a policy built from tokens at apply time: nothing to read here
    }
    for (const s of statements) {
      if (s.Effect !== "Allow") continue;
      const actions = [s.Action ?? []].flat();
      const targets = references(s.Resource ?? []).filter((a) => inStack.has(a));
      const buckets = targets.filter((a) => a.startsWith("aws_s3_bucket."));
      if (actions.some((a) => /^s3:(PutObject|DeleteObject)/.test(a))) buckets.forEach((b) => access.writes.add(b));
      if (actions.some((a) => /^s3:GetObject/.test(a))) buckets.forEach((b) => access.reads.add(b));
      targets.filter((a) => a.startsWith("aws_secretsmanager_secret.")).forEach((a) => access.secrets.add(a));
      if (actions.some((a) => a.startsWith("dynamodb:"))) access.outside.add("DynamoDB tables");
    }
  }
  return out;
}

/** A literal http(s) URL in an engine's settings (not a reference to a resource): it calls an API outside AWS. */
function callsHttp(body: unknown): boolean {
  return /"https?:\/\/(?!\$\{)/.test(JSON.stringify(body));
}

/** Builds the data flow of one stack. */
export function buildDataFlow(json: TerraformJson): DataFlow {
  const resources = stackResources(json);
  const byAddress = new Map(resources.map((r) => [r.address, r]));
  const inStack = new Set(byAddress.keys());
  const refs = new Map(resources.map((r) => [r.address, references(r.body).filter((a) => inStack.has(a))]));
  // Every address looked up here is in the stack: one missing is a bug in this file, not in the stack.
  const refsOf = (address: string) => defined(refs.get(address), `the references of ${address}`);
  const resourceAt = (address: string) => defined(byAddress.get(address), `resource ${address}`);
  const referrers = new Map<string, StackResource[]>();
  for (const r of resources) for (const a of refsOf(r.address)) referrers.set(a, [...(referrers.get(a) ?? []), r]);
  const access = roleAccess(resources, inStack);

  // Zones: buckets the catalog points at.
  const zones = new Set(
    resources
      .filter((r) => CATALOG_POINTERS.has(r.type))
      .flatMap((r) => refsOf(r.address).filter((a) => a.startsWith("aws_s3_bucket."))),
  );
  const accessLogTargets = new Set(
    resources.filter((r) => r.type === "aws_s3_bucket_logging").flatMap((r) => references(r.body.target_bucket)),
  );

  const nodes = new Map<string, FlowNode>();
  const nodeOf = new Map<string, string>(); // resource address → node id
  const edges = new Map<string, FlowEdge>();
  const edge = (from: string, to: string) => {
    if (from !== to) edges.set(`${from}>${to}`, { from, to });
  };
  const nodeAt = (id: string) => defined(nodes.get(id), `flow node ${id}`);
  const nodeIdOf = (address: string) => defined(nodeOf.get(address), `the flow node of ${address}`);
  const add = (node: FlowNode) => {
    nodes.set(node.id, node);
    node.resources.forEach((a) => nodeOf.set(a, node.id));
    return node;
  };

  /** Summaries shared by every box: encryption, alarms, what starts it. */
  const summarize = (members: readonly string[]): string[] => {
    const own = new Set(members);
    const near = new Set(members);
    for (const a of members) {
      // Settings of the box's own component (a bucket's encryption configuration, a job's log group).
      const self = resourceAt(a);
      for (const r of referrers.get(a) ?? [])
        if (
          r.module === self.module &&
          r.component === self.component &&
          !ALARM_TYPES.has(r.type) &&
          !(r.type in ENGINES)
        )
          near.add(r.address);
      for (const b of refsOf(a))
        if (!zones.has(b) && !(resourceAt(b).type in ENGINES) && !b.startsWith("aws_iam_role.")) near.add(b);
    }
    const keys = new Set([...near].flatMap((a) => [a, ...refsOf(a)]).filter((a) => a.startsWith("aws_kms_key.")));
    // An alarm watches a box directly, or through the event rule that counts its failures.
    const alarms = resources.filter(
      (r) =>
        ALARM_TYPES.has(r.type) &&
        refsOf(r.address).some(
          (a) =>
            own.has(a) || (resourceAt(a).type === "aws_cloudwatch_event_rule" && refsOf(a).some((b) => own.has(b))),
        ),
    ).length;
    const starters = new Map<string, number>();
    for (const a of members)
      for (const r of referrers.get(a) ?? [])
        if (r.type in STARTERS) starters.set(STARTERS[r.type], (starters.get(STARTERS[r.type]) ?? 0) + 1);
    const lines: string[] = [];
    const facts = [keys.size ? `KMS ×${keys.size}` : "", alarms ? plural(alarms, "alarm") : ""].filter(Boolean);
    if (facts.length) lines.push(facts.join(" · "));
    if (starters.size) lines.push(`started by ${[...starters.keys()].sort().join(", ")}`);
    return lines;
  };

  // Zones, each with what the bucket itself carries.
  for (const address of [...zones].sort()) {
    const bucket = resourceAt(address);
    const around = referrers.get(address) ?? [];
    const lines = summarize([address]);
    const traits = [
      around.some((r) => r.type === "aws_s3_bucket_logging") ? "access-logged" : "",
      around.some((r) => r.type === "aws_s3_bucket_versioning") ? "versioned" : "",
      around.some((r) => r.type === "aws_s3_bucket_notification" && r.body.eventbridge === true)
        ? "object events → EventBridge"
        : "",
      at(bucket.body, "lifecycle", "prevent_destroy") === true ? "prevent_destroy" : "",
      bucket.body.force_destroy === true ? "force_destroy" : "",
    ].filter(Boolean);
    if (traits.length) lines.push(traits.join(" · "));
    add({
      id: `z_${sanitize(bucket.component)}`,
      stage: "zone",
      title: `${bucket.component} zone`,
      lines,
      resources: [address],
    });
  }

  // Engines, grouped by kind, inputs and outputs.
  const groups = new Map<
    string,
    {
      title: string;
      script?: string;
      members: StackResource[];
      reads: string[];
      writes: string[];
      sources: string[];
      support: string[];
      secrets: number;
    }
  >();
  for (const r of resources.filter((x) => x.type in ENGINES)) {
    // The engine's roles: those it references, else those of its component (EMR names its runtime role per job run).
    let roles = refsOf(r.address).filter((a) => a.startsWith("aws_iam_role."));
    if (roles.length === 0)
      roles = resources
        .filter((x) => x.type === "aws_iam_role" && x.module === r.module && x.component === r.component)
        .map((x) => x.address);
    const reads = new Set<string>();
    const writes = new Set<string>();
    const secrets = new Set<string>(refsOf(r.address).filter((a) => a.startsWith("aws_secretsmanager_secret.")));
    const sources = new Set<string>();
    for (const role of roles) {
      const a = access.get(role);
      if (!a) continue;
      a.reads.forEach((b) => reads.add(b));
      a.writes.forEach((b) => writes.add(b));
      a.secrets.forEach((s) => secrets.add(s));
      a.outside.forEach((s) => sources.add(`outside:${s}`));
    }
    for (const b of refsOf(r.address)) {
      const type = resourceAt(b).type;
      if (type in SOURCES) sources.add(b);
      if (type === "aws_s3_bucket" && r.type === "aws_glue_crawler") reads.add(b);
      if (type === "aws_glue_catalog_database") writes.add(b);
    }
    if (r.type === "aws_lambda_function" && callsHttp(r.body)) sources.add("outside:HTTP APIs");
    writes.forEach((b) => reads.delete(b));
    const zoneReads = [...reads].filter((b) => zones.has(b) || b.startsWith("aws_glue_catalog_database.")).sort();
    const zoneWrites = [...writes].filter((b) => zones.has(b) || b.startsWith("aws_glue_catalog_database.")).sort();
    const support = [...new Set([...reads, ...writes])].filter(
      (b) => b.startsWith("aws_s3_bucket.") && !zones.has(b) && !accessLogTargets.has(b),
    );
    const sourceKinds = [...sources].map((s) => (s.startsWith("outside:") ? s : resourceAt(s).type)).sort();
    // The script a job runs (the file name of the object its command points at) tells jobs apart.
    const scriptKey = references(r.body.command ?? {})
      .map((a) => byAddress.get(a))
      .find((o) => o?.type === "aws_s3_object" && typeof o.body.key === "string")?.body.key;
    const script = typeof scriptKey === "string" ? scriptKey.split("/").pop() : undefined;
    const key = [ENGINES[r.type], script ?? "", zoneReads.join(","), zoneWrites.join(","), sourceKinds.join(",")].join(
      "|",
    );
    const g = groups.get(key) ?? {
      title: ENGINES[r.type],
      script,
      members: [],
      reads: zoneReads,
      writes: zoneWrites,
      sources: [],
      support: [],
      secrets: 0,
    };
    g.members.push(r);
    g.sources = [...new Set([...g.sources, ...sources])].sort();
    g.support = [...new Set([...g.support, ...support])].sort();
    g.secrets += secrets.size;
    groups.set(key, g);
  }

  // Catalog databases: one box per zone database, with its tables.
  for (const db of resources.filter((r) => r.type === "aws_glue_catalog_database")) {
    const tables = (referrers.get(db.address) ?? []).filter((r) => r.type === "aws_glue_catalog_table");
    const governed = (referrers.get(db.address) ?? []).some((r) => r.type.startsWith("aws_lakeformation_"));
    const zone = refsOf(db.address).find((a) => zones.has(a));
    const crawled = (referrers.get(db.address) ?? []).some((r) => r.type === "aws_glue_crawler");
    const tableLine = tables.length ? plural(tables.length, "table") : crawled ? "tables from the crawlers" : "";
    const lines = [[tableLine, governed ? "Lake Formation grants" : ""].filter(Boolean).join(" · ")].filter(Boolean);
    const id = `c_${sanitize(db.path[db.path.length - 1])}`;
    add({
      id,
      stage: "catalog",
      title: `${zone ? resourceAt(zone).component : db.path[db.path.length - 1]} database`,
      lines,
      resources: [db.address, ...tables.map((t) => t.address)],
    });
    if (zone) edge(nodeIdOf(zone), id);
  }

  let i = 0;
  for (const g of [...groups.values()].sort(
    (a, b) => a.title.localeCompare(b.title) || a.reads.join().localeCompare(b.reads.join()),
  )) {
    const id = `e_${sanitize(g.title)}_${i++}`;
    const lines = [...(g.script ? [g.script] : []), ...summarize(g.members.map((m) => m.address))];
    const uses = [
      g.secrets ? plural(g.secrets, "secret") : "",
      g.support.length ? `S3 ${g.support.map((b) => resourceAt(b).component).join(", ")}` : "",
    ].filter(Boolean);
    if (uses.length) lines.push(`uses ${uses.join(" · ")}`);
    add({
      id,
      stage: "engine",
      title: count(g.title, g.members.length),
      lines,
      resources: g.members.map((m) => m.address),
    });
    for (const s of g.sources) {
      const sid = `s_${sanitize(s.startsWith("outside:") ? s : resourceAt(s).type)}`;
      if (!nodes.has(sid)) {
        const inside = !s.startsWith("outside:");
        add({
          id: sid,
          stage: "source",
          title: inside ? SOURCES[resourceAt(s).type] : s.slice("outside:".length),
          lines: inside ? [] : ["outside the stack"],
          resources: [],
        });
      }
      if (!s.startsWith("outside:")) {
        const node = nodeAt(sid);
        if (!node.resources.includes(s)) node.resources.push(s);
        nodeOf.set(s, sid);
      }
      edge(sid, id);
    }
    for (const b of g.reads) edge(nodeIdOf(b), id);
    for (const b of g.writes) edge(id, nodeIdOf(b));
  }
  // In-stack sources: their count and summaries, once all their engines are known.
  for (const node of nodes.values()) {
    if (node.stage !== "source" || node.resources.length === 0) continue;
    Object.assign(node, { title: count(node.title, node.resources.length) });
    node.lines.push(...summarize(node.resources));
  }

  // Queries: one box per service, fed by the databases (or other query services) they reference.
  const queryGroups = new Map<string, StackResource[]>();
  for (const r of resources.filter((x) => x.type in QUERIES))
    queryGroups.set(QUERIES[r.type], [...(queryGroups.get(QUERIES[r.type]) ?? []), r]);
  for (const [title, members] of queryGroups) {
    const id = `q_${sanitize(title)}`;
    const kinds = new Map<string, number>();
    for (const m of members) kinds.set(m.type, (kinds.get(m.type) ?? 0) + 1);
    const detail =
      title === "Athena"
        ? [
            plural(kinds.get("aws_athena_workgroup") ?? 0, "workgroup"),
            plural(kinds.get("aws_athena_named_query") ?? 0, "named query", "named queries"),
          ].join(" · ")
        : title === "QuickSight"
          ? plural(kinds.get("aws_quicksight_data_set") ?? 0, "data set")
          : "";
    add({
      id,
      stage: "query",
      title,
      lines: [detail, ...summarize(members.map((m) => m.address))].filter(Boolean),
      resources: members.map((m) => m.address),
    });
  }
  for (const [title, members] of queryGroups) {
    const id = `q_${sanitize(title)}`;
    for (const m of members) {
      for (const a of refsOf(m.address)) {
        const from = nodeOf.get(a);
        if (
          from &&
          from !== id &&
          (nodeAt(from).stage === "catalog" || nodeAt(from).stage === "zone" || nodeAt(from).stage === "query")
        )
          edge(from, id);
      }
    }
  }

  const order: Stage[] = ["source", "engine", "zone", "catalog", "query"];
  return {
    nodes: [...nodes.values()].sort(
      (a, b) => order.indexOf(a.stage) - order.indexOf(b.stage) || a.id.localeCompare(b.id),
    ),
    edges: [...edges.values()].sort((a, b) => `${a.from}>${a.to}`.localeCompare(`${b.from}>${b.to}`)),
  };
}

const SHAPES: Record<Stage, [string, string]> = {
  source: ["[(", ")]"],
  engine: ["[", "]"],
  zone: ["[(", ")]"],
  catalog: ["[/", "/]"],
  query: ["([", "])"],
};

/** Colours by stage, so the eye follows the flow. */
const STYLES: Record<Stage, string> = {
  source: "fill:#eef2f7,stroke:#5b6b7f",
  engine: "fill:#fff4e0,stroke:#c77d00",
  zone: "fill:#e6f4ea,stroke:#2e7d32",
  catalog: "fill:#ede7f6,stroke:#5e35b1",
  query: "fill:#e3f2fd,stroke:#1565c0",
};

const escapeLabel = (s: string) => s.replace(/"/g, "#quot;");

/** The Mermaid flowchart of a data flow. */
export function renderDataFlow(flow: DataFlow): string {
  const lines = ["flowchart LR"];
  for (const n of flow.nodes) {
    const [open, close] = SHAPES[n.stage];
    const label = [`<b>${n.title}</b>`, ...n.lines.map((l) => `<small>${l}</small>`)].join("<br/>");
    lines.push(`  ${n.id}${open}"${escapeLabel(label)}"${close}`);
  }
  for (const e of flow.edges) lines.push(`  ${e.from} --> ${e.to}`);
  for (const stage of Object.keys(STYLES) as Stage[]) {
    const ids = flow.nodes.filter((n) => n.stage === stage).map((n) => n.id);
    if (ids.length) lines.push(`  classDef ${stage} ${STYLES[stage]}`, `  class ${ids.join(",")} ${stage}`);
  }
  return lines.join("\n");
}
