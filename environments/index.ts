/**
 * The environments this app deploys, resolved (base + override) and validated together.
 * `loadEnvironments()` is what main.ts calls: it returns every config or throws one ConfigError
 * that lists every problem in every environment.
 */
import { base } from "./base";
import { dev } from "./dev";
import { ConfigError, ConfigProblem, formatPath } from "./errors";
import { local } from "./local";
import { prod } from "./prod";
import { EnvironmentConfig, EnvironmentSchema } from "./schema";
import { staging } from "./staging";
import type { EnvironmentDefinition, EnvironmentOverride } from "./types";

export { ConfigError } from "./errors";
export type { ConfigProblem } from "./errors";
export type {
  AlarmsConfig,
  AthenaConfig,
  EnvironmentConfig,
  IngestionConfig,
  LakeFormationConfig,
  NetworkConfig,
  OrchestrationConfig,
  PartitionKey,
  PartitionSpec,
  QuickSightConfig,
  RedshiftConfig,
  Tier,
  Tiering,
} from "./schema";
export type { EnvironmentDefinition, EnvironmentOverride } from "./types";

/** Every environment, in promotion order (local last: it never receives a promotion). */
export const ENVIRONMENTS: readonly EnvironmentDefinition[] = [dev, staging, prod, local];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Deep merge where objects merge, arrays and scalars replace, and `undefined` leaves the base. */
export function mergeConfig<T>(baseValue: T, override: unknown): T {
  if (override === undefined) return baseValue;
  if (!isPlainObject(baseValue) || !isPlainObject(override)) return override as T;
  const out: Record<string, unknown> = { ...baseValue };
  for (const [key, value] of Object.entries(override)) out[key] = mergeConfig(out[key], value);
  return out as T;
}

/** Base + one environment file, before validation. */
export function resolveEnvironment(definition: EnvironmentOverride, defaults: EnvironmentOverride = base): unknown {
  return mergeConfig(defaults, definition);
}

/** Validates one resolved environment and returns its problems (empty when valid). */
function problemsOf(name: string, resolved: unknown): { config?: EnvironmentConfig; problems: ConfigProblem[] } {
  const result = EnvironmentSchema.safeParse(resolved);
  if (result.success) return { config: result.data, problems: [] };
  return {
    problems: result.error.issues.map((issue) => ({
      environment: name,
      field: formatPath(issue.path) || "(root)",
      rule: issue.message,
    })),
  };
}

/** Rules between environments: unique names and unique state locations. */
function crossEnvironmentProblems(configs: readonly EnvironmentConfig[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const names = new Set<string>();
  const states = new Map<string, string>();
  for (const env of configs) {
    if (names.has(env.name))
      problems.push({ environment: env.name, field: "name", rule: "is used by another environment" });
    names.add(env.name);
    if (env.state.backend === "s3") {
      const location = `s3://${env.state.bucket}/${stateKey(env)}`;
      const other = states.get(location);
      if (other)
        problems.push({ environment: env.name, field: "state", rule: `shares its state location with ${other}` });
      states.set(location, env.name);
    }
  }
  return problems;
}

/** The state object key: one per project and environment. */
export function stateKey(env: Pick<EnvironmentConfig, "project" | "name">): string {
  return `${env.project}/${env.name}/terraform.tfstate`;
}

/**
 * Resolves and validates environments. Throws a ConfigError listing every problem of every
 * environment when any is invalid.
 */
export function loadEnvironments(
  definitions: readonly EnvironmentOverride[] = ENVIRONMENTS,
  defaults: EnvironmentOverride = base,
): EnvironmentConfig[] {
  const configs: EnvironmentConfig[] = [];
  const problems: ConfigProblem[] = [];
  definitions.forEach((definition, i) => {
    const name = typeof definition.name === "string" ? definition.name : `environment #${i + 1}`;
    const result = problemsOf(name, resolveEnvironment(definition, defaults));
    problems.push(...result.problems);
    if (result.config) configs.push(result.config);
  });
  problems.push(...crossEnvironmentProblems(configs));
  if (problems.length > 0) throw new ConfigError(problems);
  return configs;
}

/** One validated environment by name (for scripts that act on a single environment). */
export function loadEnvironment(name: string): EnvironmentConfig {
  const config = loadEnvironments().find((env) => env.name === name);
  if (!config) {
    throw new ConfigError([
      {
        environment: name,
        field: "name",
        rule: `is not defined (known: ${ENVIRONMENTS.map((e) => e.name).join(", ")})`,
      },
    ]);
  }
  return config;
}
