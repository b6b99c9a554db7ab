import { ConfigError } from "./errors";
import type { EnvironmentDefinition } from "./types";

/**
 * The loopback port of a local service: the variable's value when set (the local cloud's scripts
 * start PostgreSQL and the sample API on free ports and export them before synth), else `fallback`.
 * Only `local` reads the process environment; every other environment synthesizes the same bytes anywhere.
 */
export function localPort(
  variable: string,
  fallback: number,
  field: string,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const raw = env[variable];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) {
    throw new ConfigError([
      {
        environment: "local",
        field,
        rule: `${variable} must be a TCP port from 1 to 65535 (got ${JSON.stringify(raw)})`,
      },
    ]);
  }
  return port;
}

/** Where the local PostgreSQL server listens (scripts/local/postgres.ts). @default 5432, PostgreSQL's port */
export const LOCAL_RDS_PORT_VARIABLE = "DATAPLAT_LOCAL_RDS_PORT";
/** Where the sample API listens. @default 8080 */
export const LOCAL_API_PORT_VARIABLE = "DATAPLAT_LOCAL_API_PORT";
/** Where the local cloud's emulator listens (`npm run local:up`). @default 4566 */
export const LOCAL_EMULATOR_PORT_VARIABLE = "DATAPLAT_LOCAL_EMULATOR_PORT";
/** The emulator port `npm run local:up` uses when the variable is unset: stable, so the synthesized endpoint is known. */
export const LOCAL_EMULATOR_DEFAULT_PORT = 4566;

/**
 * The emulator's endpoint `local`'s provider defaults to: `cdktf deploy local` then needs no
 * variable, only the credentials and CA bundle `local:up` prints. Tests on free ports set
 * TF_VAR_emulator_endpoint, which wins.
 */
export function localEmulatorEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return `https://127.0.0.1:${localPort(LOCAL_EMULATOR_PORT_VARIABLE, LOCAL_EMULATOR_DEFAULT_PORT, "emulator endpoint", env)}`;
}

/** The database the local server creates for the RDS datasets' tables. */
export const LOCAL_RDS_DATABASE = "source";

/**
 * The laptop environment: applied to the embedded AWS emulator (scripts/emulator), never to AWS.
 * It uses prod's partition layout so the end-to-end run exercises the richest spec.
 */
export const local: EnvironmentDefinition = {
  name: "local",
  tier: "local",
  accountId: "123456789012", // the emulator's default account
  region: "us-east-1",
  state: { backend: "local", path: "terraform.local.tfstate" },
  protection: { forceDestroy: true },
  partitioning: {
    keys: [
      { name: "dt", type: "date", format: "yyyy-MM-dd", rangeStart: "2024-01-01" },
      { name: "region", type: "enum", values: ["eu", "us", "apac"] },
    ],
  },
  redshift: {
    enabled: false,
    disabledReason:
      "the emulator (moto 5.2.1) has no Redshift Serverless API: terraform apply would hang waiting for the workgroup",
  },
  quicksight: {
    enabled: false,
    disabledReason: "QuickSight needs an account subscription and users, which the emulator cannot provide",
  },
  orchestration: {
    // The emulator runs the Pipe (scripts/emulator/services/pipes.py). 20 s gathers one extract's or
    // one API run's landings into one execution even on a busy laptop (a 2 s window split them into
    // many small executions that queued on the jobs' one concurrent run), and is still a short wait.
    batching: { enabled: true, windowSeconds: 20 },
    // The emulator's crawls finish in about a second; a 30 s poll would be most of a pipeline run here.
    crawlerPollSeconds: 2,
  },
  network: { cidr: "10.99.0.0/16", availabilityZones: ["a", "b"] }, // two AZs are enough without the warehouse
  ingestion: {
    // The end-to-end run serves a sample API on loopback and runs the handler locally (functions/api-ingest).
    api: { baseUrl: `http://127.0.0.1:${localPort(LOCAL_API_PORT_VARIABLE, 8080, "ingestion.api.baseUrl")}` },
    rds: {
      jdbcUrl: `jdbc:postgresql://127.0.0.1:${localPort(LOCAL_RDS_PORT_VARIABLE, 5432, "ingestion.rds.jdbcUrl")}/${LOCAL_RDS_DATABASE}`,
      databaseCidr: "10.99.0.0/16",
    },
    emrServerless: {
      enabled: false,
      disabledReason:
        'the emulator (moto 5.2.1) refuses the application type the provider sends ("spark"; it accepts only "SPARK"): CreateApplication fails',
    },
  },
  streamSql: {
    enabled: false,
    disabledReason:
      "the application package needs the Kinesis connector jar, a pinned Maven input this machine cannot fetch, and moto 5.2.1 only stores Flink applications (it runs none): the generated SQL runs in local PyFlink instead (npm run test:stream-sql)",
  },
  logs: { retentionDays: 1 },
};
