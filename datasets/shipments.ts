import { defineDataset } from "./contract";

export const shipments = defineDataset({
  name: "shipments",
  description: "Parcel tracking from the carrier's external HTTP API, paged by the api-ingest Lambda.",
  // The carrier's API filters by last update (`updated_since`), so each run reads what changed.
  source: { kind: "api", path: "/v1/shipments", incremental: { kind: "since", parameter: "updated_since" } },
  // A few thousand tracking updates an hour: pages of JSON, well inside Lambda's limits.
  ingestion: { volumeMb: 50, durationMinutes: 3, latency: "batch" },
  primaryKey: ["shipment_id"],
  eventTimeColumn: "shipped_at",
  versionColumn: "updated_at",
  columns: [
    { name: "shipment_id", type: "string", required: true, description: "Carrier tracking id" },
    { name: "order_id", type: "string", required: true, description: "Order the parcel belongs to" },
    { name: "carrier", type: "string", required: true, description: "Carrier code" },
    { name: "status", type: "string", required: true, description: "in_transit, delivered, returned" },
    { name: "region", type: "string", required: true, description: "Destination region (eu, us, apac)" },
    { name: "weight_kg", type: "double", description: "Parcel weight" },
    { name: "shipped_at", type: "timestamp", required: true, description: "Hand-over to the carrier (UTC)" },
    { name: "updated_at", type: "timestamp", required: true, description: "Last tracking update (UTC)" },
  ],
});
