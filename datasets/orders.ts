import { defineDataset } from "./contract";

export const orders = defineDataset({
  name: "orders",
  description: "Customer orders from the operational PostgreSQL database (RDS), extracted incrementally.",
  source: { kind: "rds", table: "public.orders" },
  // The nightly increment plus backfills of whole months: gigabytes over JDBC, longer than Lambda may run.
  ingestion: { volumeMb: 8000, durationMinutes: 40, latency: "batch" },
  primaryKey: ["order_id"],
  eventTimeColumn: "order_ts",
  versionColumn: "updated_at",
  consumer: {
    kind: "aggregate",
    name: "daily",
    groupBy: ["region", "status", "currency"],
    measures: [
      { name: "order_count", fn: "count", description: "Orders placed" },
      { name: "revenue", fn: "sum", column: "amount", description: "Sum of order totals" },
      { name: "customer_count", fn: "count_distinct", column: "customer_id", description: "Distinct customers" },
    ],
  },
  columns: [
    { name: "order_id", type: "string", required: true, description: "Order identifier" },
    { name: "customer_id", type: "string", required: true, description: "Customer who placed the order" },
    { name: "region", type: "string", required: true, description: "Sales region (eu, us, apac)" },
    { name: "status", type: "string", required: true, description: "placed, paid, shipped, cancelled" },
    { name: "amount", type: "decimal(12,2)", required: true, description: "Order total" },
    { name: "currency", type: "string", required: true, description: "ISO-4217 currency code" },
    { name: "order_ts", type: "timestamp", required: true, description: "When the order was placed (UTC)" },
    { name: "updated_at", type: "timestamp", required: true, description: "Last change in the source (UTC)" },
  ],
});
