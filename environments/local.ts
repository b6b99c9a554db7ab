import type { EnvironmentDefinition } from "./types";

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
    disabledReason: "the emulator (moto 5.2.1) has no Redshift Serverless API: terraform apply would hang waiting for the workgroup",
  },
  quicksight: {
    enabled: false,
    disabledReason: "QuickSight needs an account subscription and users, which the emulator cannot provide",
  },
  orchestration: {
    // The emulator runs the Pipe (scripts/emulator/services/pipes.py); a short window keeps the local run quick.
    batching: { enabled: true, windowSeconds: 2 },
  },
  network: { cidr: "10.99.0.0/16", availabilityZones: ["a", "b"] }, // two AZs are enough without the warehouse
  ingestion: {
    // The end-to-end run serves a sample API on loopback and runs the handler locally (functions/api-ingest).
    api: { baseUrl: "http://127.0.0.1:8080" },
    rds: { jdbcUrl: "jdbc:postgresql://127.0.0.1:5432/orders", databaseCidr: "10.99.0.0/16" },
    emrServerless: {
      enabled: false,
      disabledReason: 'the emulator (moto 5.2.1) refuses the application type the provider sends ("spark"; it accepts only "SPARK"): CreateApplication fails',
    },
  },
  logs: { retentionDays: 1 },
};
