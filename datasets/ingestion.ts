/**
 * The platform's rule for choosing an ingestion engine, as data: each dataset declares how much
 * one run moves, how long it takes and how fresh the data must be; the engine follows from the
 * first rule that matches. An explicit `engine` that a rule would not pick fails synth, naming the
 * dataset, the field and the rule it breaks.
 *
 *   real-time latency                              → kinesis (stream → Firehose)
 *   a persistent cluster with complex dependencies → emr     (EMR Serverless)
 *   under 15 minutes and under 1 GB                → lambda  (light, API loads)
 *   15 minutes or more, or 1 GB or more            → glue    (Spark, heavy loads)
 */

export const ENGINES = ["lambda", "glue", "emr", "kinesis"] as const;
export type Engine = (typeof ENGINES)[number];

/** Lambda's hard limit is 15 minutes; the platform's light-load ceiling is 1 GB per run. */
export const LAMBDA_MAX_MINUTES = 15;
export const LAMBDA_MAX_MB = 1024;

export interface IngestionProfile {
  /** Data one run moves, in MB (for a stream: per hour). */
  readonly volumeMb: number;
  /** How long one run takes, in minutes (for a stream: how long a batch would take; the rules ignore it). */
  readonly durationMinutes: number;
  /** "real-time": seconds from event to lake; "batch": scheduled runs are fresh enough. */
  readonly latency: "batch" | "real-time";
  /**
   * The work needs a persistent cluster with complex dependencies (custom JARs, multi-stage jobs
   * sharing warm executors).
   * @default false
   */
  readonly complexDependencies?: boolean;
  /** The engine, stated explicitly. It must be the one the rules pick. @default what the rules pick */
  readonly engine?: Engine;
}

export interface EngineRule {
  /** Short id, used in messages and tests. */
  readonly id: string;
  readonly engine: Engine;
  /** The rule as the platform guidance states it. */
  readonly description: string;
  readonly applies: (profile: IngestionProfile) => boolean;
}

/** Ordered: the first rule that applies decides. */
export const ENGINE_RULES: readonly EngineRule[] = [
  {
    id: "real-time",
    engine: "kinesis",
    description: "real-time latency → kinesis",
    applies: (p) => p.latency === "real-time",
  },
  {
    id: "persistent-cluster",
    engine: "emr",
    description: "a persistent cluster with complex dependencies → emr",
    applies: (p) => p.complexDependencies === true,
  },
  {
    id: "light",
    engine: "lambda",
    description: `under ${LAMBDA_MAX_MINUTES} minutes and under 1 GB → lambda`,
    applies: (p) => p.durationMinutes < LAMBDA_MAX_MINUTES && p.volumeMb < LAMBDA_MAX_MB,
  },
  {
    id: "heavy",
    engine: "glue",
    description: `${LAMBDA_MAX_MINUTES} minutes or more, or 1 GB or more → glue`,
    applies: () => true,
  },
];

/** The engine the rules pick for a profile, and the rule that picked it. */
export function decideEngine(profile: IngestionProfile): { engine: Engine; rule: EngineRule } {
  const rule = ENGINE_RULES.find((r) => r.applies(profile))!;
  return { engine: rule.engine, rule };
}

/**
 * Engines the platform builds for each source kind: the api-ingest Lambda pages HTTP APIs, the
 * Glue extracts read RDS (JDBC) and DynamoDB (exports), Firehose drains the Kinesis stream.
 */
export const SOURCE_ENGINES: Readonly<Record<"api" | "rds" | "dynamodb" | "kinesis", readonly Engine[]>> = {
  api: ["lambda"],
  rds: ["glue"],
  dynamodb: ["glue"],
  kinesis: ["kinesis"],
};

function describeProfile(p: IngestionProfile): string {
  return `declared volumeMb ${p.volumeMb}, durationMinutes ${p.durationMinutes}, latency "${p.latency}"${p.complexDependencies ? ", complexDependencies" : ""}`;
}

/**
 * Problems of a dataset's ingestion declaration ("<field>: <rule>" each), empty when it is sound:
 * the numbers are valid, an explicit engine agrees with the rules, and the platform builds that
 * engine for the dataset's source kind.
 */
export function ingestionProblems(sourceKind: keyof typeof SOURCE_ENGINES, profile: IngestionProfile | undefined): string[] {
  if (profile === undefined) return ["ingestion: is required: declare volumeMb, durationMinutes and latency so the engine follows from the rules"];
  const problems: string[] = [];
  for (const field of ["volumeMb", "durationMinutes"] as const) {
    const value = profile[field];
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) problems.push(`ingestion.${field}: must be a number ≥ 0 (got ${JSON.stringify(value)})`);
  }
  if (profile.latency !== "batch" && profile.latency !== "real-time") {
    problems.push(`ingestion.latency: must be "batch" or "real-time" (got ${JSON.stringify(profile.latency)})`);
  }
  if (profile.engine !== undefined && !(ENGINES as readonly string[]).includes(profile.engine)) {
    problems.push(`ingestion.engine: must be one of ${ENGINES.join(", ")} (got ${JSON.stringify(profile.engine)})`);
  }
  if (problems.length) return problems;
  const { engine, rule } = decideEngine(profile);
  if (profile.engine !== undefined && profile.engine !== engine) {
    problems.push(`ingestion.engine: "${profile.engine}" breaks the rule "${rule.description}" (${describeProfile(profile)})`);
    return problems;
  }
  const supported = SOURCE_ENGINES[sourceKind];
  if (!supported.includes(engine)) {
    problems.push(
      `ingestion: the rule "${rule.description}" picks ${engine}, but ${sourceKind} sources are ingested by ${supported.join(" or ")} only ` +
        `(${describeProfile(profile)}); correct the declaration or add a ${engine} path for ${sourceKind} sources`,
    );
  }
  return problems;
}
