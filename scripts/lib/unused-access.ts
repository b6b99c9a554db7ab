/**
 * Unused access, as IAM Access Analyzer's unused-access findings show it: for every service role,
 * each granted action and whether the end-to-end run exercised it. An action the run never used
 * must carry a kept reason next to its grant (`keptBecause`); one without is a problem, and so is
 * a role or grant that exists only in the cloud environments without a reason why `local` lacks it.
 *
 * The input is the emulator's decision log, as the main job's report carries it (per role ARN,
 * "<action> <policy>/<sid>" → count), reduced to a committed snapshot keyed by component name so it
 * does not depend on an environment's naming.
 */
import { Testing } from "cdktf";
import type { EnvironmentConfig } from "../../environments";
import { PlatformStack } from "../../modules/platform-stack";
import { INLINE_POLICY_NAME, ServiceRole, keptReasons, type KeptReason } from "../../modules/shared/iam";

/** Per component: "<action> <sid>" → how often that grant allowed a request. */
export type ExercisedSnapshot = Record<string, Record<string, number>>;

/** The page and the snapshot it is generated from. */
export const UNUSED_ACCESS_PAGE = "docs/unused-access.md";
export const EXERCISED_SNAPSHOT = "docs/iam-exercised.json";

/** A role as the report needs it. */
export interface RoleGrants {
  readonly component: string;
  readonly physicalName: string;
  readonly service: string;
  readonly grants: ServiceRole["grants"];
}

/** Every service role one environment's stack creates, by component name. */
export function rolesOf(config: EnvironmentConfig): Map<string, RoleGrants> {
  const stack = new PlatformStack(Testing.app(), config);
  const roles = stack.node.findAll().filter((n): n is ServiceRole => n instanceof ServiceRole);
  return new Map(
    roles.map((r) => [
      r.component,
      { component: r.component, physicalName: r.name, service: r.service, grants: r.grants },
    ]),
  );
}

/**
 * The decision log's exercised grants, keyed by component (through the local roles' physical names)
 * and by sid. Only identity-policy grants count here: resource policies and trust are not a role's
 * grants. Roles the stack does not create (a test's extra dataset) are left out.
 */
export function snapshotOf(
  exercised: Readonly<Record<string, Readonly<Record<string, number>>>>,
  local: ReadonlyMap<string, RoleGrants>,
): ExercisedSnapshot {
  const byPhysical = new Map([...local.values()].map((r) => [r.physicalName, r.component]));
  const snapshot: ExercisedSnapshot = {};
  for (const [arn, grants] of Object.entries(exercised)) {
    const component = byPhysical.get(arn.split("/").pop() ?? "");
    if (!component) continue;
    for (const [key, count] of Object.entries(grants)) {
      // The log names an inline policy "<role>:<policy>/<sid>".
      const [action, label] = key.split(" ");
      const sid = label?.match(new RegExp(`(?:^|:)${INLINE_POLICY_NAME}/([A-Za-z0-9]+)$`))?.[1];
      if (!sid) continue;
      const entry = `${action} ${sid}`;
      (snapshot[component] ??= {})[entry] = (snapshot[component][entry] ?? 0) + count;
    }
  }
  return sortKeys(Object.fromEntries(Object.entries(snapshot).map(([c, g]) => [c, sortKeys(g)])));
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * What a run exercised that two runs must agree on: "<component> <action> <sid>" of the local
 * stack's grants (a test's extra dataset's grants are left out), except actions marked `varies`.
 */
export function stableExercised(snapshot: ExercisedSnapshot, local: ReadonlyMap<string, RoleGrants>): Set<string> {
  const keys = new Set<string>();
  for (const [component, grants] of Object.entries(snapshot)) {
    const role = local.get(component);
    for (const [key, count] of Object.entries(grants)) {
      const [action, sid] = key.split(" ");
      const grant = role?.grants.find((g) => g.sid === sid && g.actions.includes(action));
      if (count > 0 && grant && !keptFor(grant, action)?.varies) keys.add(`${component} ${key}`);
    }
  }
  return keys;
}

/** One granted action of a local role. */
export interface GrantRow {
  readonly role: string;
  readonly sid: string;
  readonly action: string;
  /** Requests it allowed in the run (0: unused). */
  readonly count: number;
  /** Why it is kept, when unused (or when its use varies between runs). */
  readonly kept?: KeptReason;
}

/** A role or grant that only the cloud environments create. */
export interface AbsentRow {
  readonly role: string;
  /** Undefined: the whole role is absent from `local`. */
  readonly sid?: string;
  readonly actions: readonly string[];
  readonly environments: readonly string[];
  readonly reason?: string;
}

export interface UnusedAccessReport {
  readonly rows: readonly GrantRow[];
  readonly absent: readonly AbsentRow[];
  /** Unused grants without a reason, absent roles or grants without one, snapshot entries no grant has. */
  readonly problems: readonly string[];
}

/** The reason a kept grant gives for one of its actions. */
export function keptFor(grant: ServiceRole["grants"][number], action: string): KeptReason | undefined {
  return keptReasons(grant).find((k) => !k.actions || k.actions.includes(action));
}

/**
 * Why `local` lacks a role or grant the cloud environments have: the feature that creates it is off
 * there, with the environment's own reason where it states one.
 */
export function absentReason(
  local: EnvironmentConfig,
  service: string,
  actions: readonly string[],
): string | undefined {
  const off = (feature: { readonly enabled: boolean; readonly disabledReason?: string }, name: string) =>
    feature.enabled
      ? undefined
      : `${name} is off in local: ${feature.disabledReason ?? "opt-in, and not enabled there"}`;
  if (service === "redshift.amazonaws.com") return off(local.redshift, "the Redshift warehouse (redshift.enabled)");
  if (service === "emr-serverless.amazonaws.com")
    return off(local.ingestion.emrServerless, "EMR Serverless (ingestion.emrServerless.enabled)");
  if (service === "kinesisanalytics.amazonaws.com")
    return off(local.streamSql, "the stream SQL application (streamSql.enabled)");
  if (service === "lakeformation.amazonaws.com" || actions.some((a) => a.startsWith("lakeformation:"))) {
    return off(local.lakeFormation, "Lake Formation (lakeFormation.enabled)");
  }
  return undefined;
}

/** The local environment's roles, judged against a run, and the other environments' roles, for what only they have. */
export function rolesByEnvironment(environments: readonly EnvironmentConfig[]): {
  readonly local: { readonly config: EnvironmentConfig; readonly roles: ReadonlyMap<string, RoleGrants> };
  readonly others: readonly { readonly name: string; readonly roles: ReadonlyMap<string, RoleGrants> }[];
} {
  const config = environments.find((e) => e.name === "local");
  if (!config) throw new Error("no local environment: the unused-access report judges the local run");
  return {
    local: { config, roles: rolesOf(config) },
    others: environments.filter((e) => e.name !== "local").map((e) => ({ name: e.name, roles: rolesOf(e) })),
  };
}

/** The report: local roles against the run's snapshot, and what only the cloud environments have. */
export function unusedAccess(
  local: { readonly config: EnvironmentConfig; readonly roles: ReadonlyMap<string, RoleGrants> },
  others: readonly { readonly name: string; readonly roles: ReadonlyMap<string, RoleGrants> }[],
  snapshot: ExercisedSnapshot,
): UnusedAccessReport {
  const rows: GrantRow[] = [];
  const problems: string[] = [];
  const known = new Set<string>();
  for (const role of [...local.roles.values()].sort((a, b) => a.component.localeCompare(b.component))) {
    const used = snapshot[role.component] ?? {};
    for (const grant of role.grants) {
      for (const action of grant.actions) {
        const key = `${action} ${grant.sid}`;
        known.add(`${role.component} ${key}`);
        const count = used[key] ?? 0;
        const kept = keptFor(grant, action);
        rows.push({
          role: role.component,
          sid: grant.sid ?? "",
          action,
          count,
          ...(kept && (count === 0 || kept.varies) ? { kept } : {}),
        });
        if (count === 0 && !kept)
          problems.push(`${role.component}: ${action} (${grant.sid}) was never exercised and has no kept reason`);
      }
    }
  }
  for (const [component, grants] of Object.entries(snapshot)) {
    for (const key of Object.keys(grants)) {
      if (!known.has(`${component} ${key}`))
        problems.push(`${component}: the snapshot holds "${key}", which no local grant has: refresh it`);
    }
  }
  const absent = new Map<string, { row: Omit<AbsentRow, "environments">; environments: string[] }>();
  for (const env of others) {
    for (const role of env.roles.values()) {
      const here = local.roles.get(role.component);
      const missing = here ? role.grants.filter((g) => !here.grants.some((h) => h.sid === g.sid)) : [undefined];
      for (const grant of missing) {
        const actions = grant ? grant.actions : role.grants.flatMap((g) => g.actions);
        const id = `${role.component} ${grant?.sid ?? ""}`;
        const found = absent.get(id) ?? {
          row: {
            role: role.component,
            ...(grant ? { sid: grant.sid } : {}),
            actions: [...new Set(actions)],
            reason: absentReason(local.config, role.service, actions),
          },
          environments: [],
        };
        found.environments.push(env.name);
        absent.set(id, found);
      }
    }
  }
  const absentRows = [...absent.values()]
    .map((a) => ({ ...a.row, environments: a.environments }))
    .sort((a, b) => `${a.role} ${a.sid ?? ""}`.localeCompare(`${b.role} ${b.sid ?? ""}`));
  for (const a of absentRows) {
    if (!a.reason)
      problems.push(
        `${a.role}${a.sid ? ` ${a.sid}` : ""}: exists in ${a.environments.join(", ")} but not in local, with no reason`,
      );
  }
  return { rows, absent: absentRows, problems };
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The generated page. */
export function renderUnusedAccess(report: UnusedAccessReport): string {
  const roles = [...new Set(report.rows.map((r) => r.role))];
  const unused = report.rows.filter((r) => r.count === 0);
  const out = [
    "# Unused access",
    "",
    "<!-- Generated by `npm run docs:unused-access` from the last end-to-end run's decision log (docs/iam-exercised.json); a unit test fails when it is stale. -->",
    "",
    "What IAM Access Analyzer's unused-access findings show, for every role the `local` stack deploys: each granted action, how often",
    "it allowed a request while `npm start` moved the data with IAM enforced, and, for each one the run did not use, why the grant is",
    "kept. A grant is never removed only because the emulator did not use it: where AWS documents a permission as required for what the",
    "emulator does not do (encrypted Glue logs, multipart uploads, X-Ray, vended logs), the reason cites that documentation.",
    "Reasons live next to the grant (`keptBecause` in the module that grants it). See [IAM enforcement](iam-enforcement.md).",
    "",
    `${roles.length} roles, ${report.rows.length} granted actions: ${report.rows.length - unused.length} exercised, ${unused.length} kept unused with a reason.`,
    "Actions marked *varies* are used in some runs and not others (a failure path, object size, timing); the run's exercised set is",
    "compared with this snapshot for every other action.",
    "",
  ];
  for (const role of roles) {
    out.push(
      `## ${role}`,
      "",
      "| Statement | Action | Requests allowed | Kept because |",
      "| --- | --- | ---: | --- |",
    );
    for (const r of report.rows.filter((x) => x.role === role)) {
      const kept = r.kept
        ? `${r.kept.varies ? "*varies*: " : ""}${cell(r.kept.reason)}${r.kept.citation ? ` ([AWS docs](${r.kept.citation}))` : ""}`
        : "";
      out.push(`| ${r.sid} | \`${r.action}\` | ${r.count === 0 ? "**unused**" : r.count} | ${kept} |`);
    }
    out.push("");
  }
  out.push(
    "## Not in local",
    "",
    "Roles and grants that only the cloud environments create, so the local run cannot exercise them.",
    "",
    "| Role | Statement | Actions | Environments | Why not in local |",
    "| --- | --- | --- | --- | --- |",
  );
  for (const a of report.absent) {
    out.push(
      `| ${a.role} | ${a.sid ?? "(whole role)"} | ${a.actions.map((x) => `\`${x}\``).join(", ")} | ${a.environments.join(", ")} | ${cell(a.reason ?? "**no reason**")} |`,
    );
  }
  return `${out.join("\n")}\n`;
}
