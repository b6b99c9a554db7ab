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
  logs: { retentionDays: 1 },
};
