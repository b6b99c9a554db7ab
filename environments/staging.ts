import type { EnvironmentDefinition } from "./types";

/** Pre-production: prod's data layout and guards, without paging anyone. */
export const staging: EnvironmentDefinition = {
  name: "staging",
  tier: "nonprod",
  accountId: "222222222222",
  state: { backend: "s3", bucket: "dataplat-tfstate-222222222222", region: "eu-west-1" },
  partitioning: {
    // Same layout as prod so promotion tests the real partition spec.
    keys: [
      { name: "dt", type: "date", format: "yyyy-MM-dd", rangeStart: "2024-01-01" },
      { name: "region", type: "enum", values: ["eu", "us", "apac"] },
    ],
  },
  athena: { bytesScannedCutoffPerQuery: 10 * 1024 ** 3 },
  // Same grants model as prod, so promotion tests the permissions consumers will get.
  lakeFormation: {
    enabled: true,
    admins: ["arn:aws:iam::222222222222:role/dataplat-deploy"],
    consumers: ["arn:aws:iam::222222222222:role/dataplat-analysts"],
  },
  // Staging lives in the shared pre-production VPC; its owner provides the VPC endpoints.
  network: {
    mode: "adopt",
    vpcId: "vpc-0a1b2c3d4e5f60718",
    cidr: "10.20.0.0/16",
    subnets: [
      { id: "subnet-0a1b2c3d4e5f60001", availabilityZone: "eu-west-1a" },
      { id: "subnet-0a1b2c3d4e5f60002", availabilityZone: "eu-west-1b" },
      { id: "subnet-0a1b2c3d4e5f60003", availabilityZone: "eu-west-1c" },
    ],
  },
  ingestion: {
    api: { baseUrl: "https://sandbox.carrier.example" },
    rds: { jdbcUrl: "jdbc:postgresql://orders-db.staging.internal.example:5432/orders", databaseCidr: "10.20.0.0/16" }, // in the shared VPC
    emrServerless: { enabled: true }, // as in prod, so promotion tests the application and its role
  },
  streamSql: { enabled: true }, // as in prod, so promotion tests the application, its role and alarms
  logs: { retentionDays: 30 },
};
