import type { EnvironmentDefinition } from "./types";

/** Shared development account: disposable, cheap, daily partitions. */
export const dev: EnvironmentDefinition = {
  name: "dev",
  tier: "nonprod",
  accountId: "111111111111",
  state: { backend: "s3", bucket: "dataplat-tfstate-111111111111", region: "eu-west-1" },
  protection: { forceDestroy: true }, // dev data is disposable; a destroy must not stall on full buckets
  athena: { bytesScannedCutoffPerQuery: 1 * 1024 ** 3 }, // 1 GiB: dev queries run over sample data
  redshift: { maxCapacityRpu: 32 }, // dev queries sample data; a low ceiling caps a runaway query's bill
  network: { cidr: "10.10.0.0/16" },
  ingestion: {
    api: { baseUrl: "https://sandbox.carrier.example", schedule: "rate(6 hours)" }, // the carrier's sandbox; four runs a day are enough to test with
    rds: { jdbcUrl: "jdbc:postgresql://orders-db.dev.internal.example:5432/orders", databaseCidr: "10.110.0.0/16" }, // peered development database VPC
  },
  // Developers wait for their test files: start within a minute.
  orchestration: { batching: { windowSeconds: 60 } },
  streamSql: { enabled: true }, // dev runs what prod runs, on one KPU
  logs: { retentionDays: 14 },
};
