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

import { z } from "zod";
import { rule, type FieldProblem } from "./errors";

export const ENGINES = ["lambda", "glue", "emr", "kinesis"] as const;
export type Engine = (typeof ENGINES)[number];

/** Lambda's hard limit is 15 minutes; the platform's light-load ceiling is 1 GB per run. */
export const LAMBDA_MAX_MINUTES = 15;
export const LAMBDA_MAX_MB = 1024;

const amount = z.number({ error: rule("must be a number ≥ 0") }).min(0, { error: rule("must be a number ≥ 0") });

/** What one ingestion run of a dataset moves, how long it takes and how fresh it must be. */
export const IngestionProfileSchema = z.strictObject(
  {
    /** Data one run moves, in MB (for a stream: per hour). */
    volumeMb: amount,
    /** How long one run takes, in minutes (for a stream: how long a batch would take; the rules ignore it). */
    durationMinutes: amount,
    /** "real-time": seconds from event to lake; "batch": scheduled runs are fresh enough. */
    latency: z.enum(["batch", "real-time"], { error: rule('must be "batch" or "real-time"') }),
    /**
     * The work needs a persistent cluster with complex dependencies (custom JARs, multi-stage jobs
     * sharing warm executors).
     * @default false
     */
    complexDependencies: z.boolean({ error: rule("must be true or false") }).optional(),
    /** The engine, stated explicitly. It must be the one the rules pick. @default what the rules pick */
    engine: z.enum(ENGINES, { error: rule(`must be one of ${ENGINES.join(", ")}`) }).optional(),
  },
  {
    error: rule(
      "must be an object",
      "is required: declare volumeMb, durationMinutes and latency so the engine follows from the rules",
    ),
  },
);
export type IngestionProfile = z.output<typeof IngestionProfileSchema>;

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
  // the last rule applies to every profile, so one always matches
  const rule = ENGINE_RULES.find((r) => r.applies(profile)) ?? ENGINE_RULES[ENGINE_RULES.length - 1];
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
 * Problems of a sound ingestion declaration (the schema has checked its fields), empty when none:
 * an explicit engine agrees with the rules, and the platform builds that engine for the dataset's
 * source kind.
 */
export function ingestionProblems(sourceKind: keyof typeof SOURCE_ENGINES, profile: IngestionProfile): FieldProblem[] {
  const { engine, rule: picked } = decideEngine(profile);
  if (profile.engine !== undefined && profile.engine !== engine) {
    return [
      {
        field: "ingestion.engine",
        rule: `"${profile.engine}" breaks the rule "${picked.description}" (${describeProfile(profile)})`,
      },
    ];
  }
  const supported = SOURCE_ENGINES[sourceKind];
  if (supported.includes(engine)) return [];
  return [
    {
      field: "ingestion",
      rule:
        `the rule "${picked.description}" picks ${engine}, but ${sourceKind} sources are ingested by ${supported.join(" or ")} only ` +
        `(${describeProfile(profile)}); correct the declaration or add a ${engine} path for ${sourceKind} sources`,
    },
  ];
}
