import { defineDataset } from "./contract";

export const clickstream = defineDataset({
  name: "clickstream",
  description: "Web and app interaction events, streamed through Kinesis and delivered by Firehose.",
  source: { kind: "kinesis" },
  // Dashboards show sessions within a minute: events stream through Kinesis.
  ingestion: { volumeMb: 2000, durationMinutes: 60, latency: "real-time" },
  primaryKey: ["event_id"],
  eventTimeColumn: "event_time",
  // Events are immutable: every event is kept; a redelivered one collapses by key and time.
  processed: "event-log",
  columns: [
    { name: "event_id", type: "string", required: true, description: "Client-generated event id (idempotency key)" },
    { name: "session_id", type: "string", required: true, description: "Browser or app session" },
    { name: "customer_id", type: "string", description: "Signed-in customer, if any" },
    { name: "page", type: "string", required: true, description: "Page or screen" },
    { name: "action", type: "string", required: true, description: "view, click, add_to_cart, checkout" },
    { name: "region", type: "string", required: true, description: "Region served from (eu, us, apac)" },
    { name: "event_time", type: "timestamp", required: true, description: "Client event time (UTC)" },
  ],
  // What the dashboards read within a minute, computed on the stream (the batch tables follow later).
  streamQueries: {
    allowedLatenessSeconds: 30, // the default, said here because the dashboards depend on it
    queries: [
      {
        name: "page_actions_per_minute",
        description: "Actions per page and action type, per minute",
        window: { kind: "tumbling", sizeSeconds: 60 },
        groupBy: ["page", "action"],
        measures: [{ name: "actions", fn: "count", description: "Events in the minute" }],
      },
      {
        name: "region_sessions_5m",
        description: "Distinct sessions per region over the last 5 minutes, every minute",
        window: { kind: "hopping", sizeSeconds: 300, slideSeconds: 60 },
        groupBy: ["region"],
        measures: [
          {
            name: "sessions",
            fn: "count_distinct",
            column: "session_id",
            description: "Distinct sessions active in the 5 minutes",
          },
          { name: "events", fn: "count", description: "Events in the 5 minutes" },
        ],
      },
    ],
  },
});
