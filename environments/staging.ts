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
  logs: { retentionDays: 30 },
};
