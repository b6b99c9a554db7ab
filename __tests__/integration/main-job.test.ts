/**
 * The README's main command, end to end, twice: the data path reconciles (raw = processed +
 * quarantined for every dataset, consumer totals equal processed totals), the summary is printed,
 * and a second run gives the same result. Plans of dev/staging/prod are covered by
 * emulated-deploy.test.ts, so they are skipped here.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../scripts/lib/terraform";

const REPORT = join(ROOT, ".emulator", "e2e", "report.json");

function mainJob(): { status: number | null; stdout: string; stderr: string; report: any } {
  const result = spawnSync(join(ROOT, "node_modules", ".bin", "tsx"), [join(ROOT, "scripts", "main-job.ts"), "--skip-plans"], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, report: JSON.parse(readFileSync(REPORT, "utf8")) };
}

let first: ReturnType<typeof mainJob>;

beforeAll(() => {
  first = mainJob();
});

it("runs every step and prints the summary", () => {
  expect({ status: first.status, stderr: first.stderr.includes("npm start failed") ? first.stderr : "" }).toEqual({ status: 0, stderr: "" });
  for (const heading of ["Platform", "API ingest (real handler, loopback carrier API)", "Records per zone", "Quarantine reasons", "Query orders_daily-one-day"]) {
    expect(first.stdout).toContain(heading);
  }
  expect(first.stdout).toMatch(/local stack: \d+ resources deployed to the emulator/);
});

it("lands every dataset and reconciles: raw = processed + quarantined", () => {
  const datasets = first.report.datasets as Record<string, { raw: number; processed: number; quarantined: number; rawReconciled: boolean }>;
  expect(Object.keys(datasets).sort()).toEqual(["clickstream", "customers", "orders", "shipments"]);
  for (const [name, d] of Object.entries(datasets)) {
    expect({ name, raw: d.raw }).toEqual({ name, raw: d.processed + d.quarantined });
    expect(d.processed).toBeGreaterThan(0);
    expect(d.rawReconciled).toBe(true);
  }
  // The sample data carries known faults; each dataset must have quarantined some.
  for (const d of Object.values(datasets)) expect(d.quarantined).toBeGreaterThan(0);
});

it("consumer totals match processed", () => {
  const orders = first.report.datasets.orders;
  expect(orders.consumerTotals.order_count).toEqual({ consumer: String(orders.processed), processed: String(orders.processed) });
  expect(orders.consumerTotals.revenue.consumer).toBe(orders.consumerTotals.revenue.processed);
  for (const name of ["clickstream", "customers", "shipments"]) {
    expect(first.report.datasets[name].consumerRows).toBe(first.report.datasets[name].processed);
  }
  expect(first.report.reconciled).toBe(true);
});

it("runs the deployed named query over the consumer Parquet and gets the day's rows", () => {
  expect(first.report.query.sql).toContain("WHERE dt = '2024-01-01'");
  expect(first.report.query.rows.length).toBeGreaterThan(0);
  for (const row of first.report.query.rows) expect(row.dt).toBe("2024-01-01");
});

it("a second run is idempotent: the same report", () => {
  const second = mainJob();
  expect(second.status).toBe(0);
  expect(second.report).toEqual(first.report);
});
