import { defineDataset } from "./contract";

export const customers = defineDataset({
  name: "customers",
  description: "Customer profiles from the DynamoDB customers table, read through table exports.",
  source: { kind: "dynamodb", table: "customers" },
  // A full table export each night (millions of profiles): several GB, minutes to export.
  ingestion: { volumeMb: 3000, durationMinutes: 25, latency: "batch" },
  primaryKey: ["customer_id"],
  // Partitioned by sign-up time, which no profile change moves: a profile's versions share one
  // partition, so the latest replaces the stored one (processed holds the current state).
  eventTimeColumn: "created_at",
  versionColumn: "updated_at",
  columns: [
    { name: "customer_id", type: "string", required: true, description: "Customer identifier" },
    { name: "email", type: "string", required: true, description: "Contact e-mail (PII)" },
    { name: "full_name", type: "string", description: "Display name (PII)" },
    { name: "region", type: "string", required: true, description: "Home region (eu, us, apac)" },
    { name: "tier", type: "string", description: "Loyalty tier" },
    { name: "created_at", type: "timestamp", required: true, description: "Sign-up time (UTC)" },
    { name: "updated_at", type: "timestamp", required: true, description: "Last profile change (UTC)" },
  ],
});
