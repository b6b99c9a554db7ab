/**
 * The local cloud's RDS source is a real PostgreSQL server: scripts/local/postgres.ts installs it
 * (or fails naming the command), starts it on a free port in its own data directory, seeds a table
 * generated from a contract, and real PySpark reads that table over JDBC with the Debian driver jar,
 * over TLS, with the read-only role's password. Stopping frees the port.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineDataset } from "../../datasets";
import { loadEnvironment } from "../../environments";
import { ROOT } from "../../scripts/lib/terraform";
import {
  freePort,
  POSTGRES_JDBC_JAR,
  sampleRows,
  seedTable,
  startPostgres,
  type PostgresServer,
  type Row,
} from "../../scripts/local/postgres";
import { defined } from "../../modules/shared/defined";

// A contract of the test's own, with every column type the platform supports, in a non-public schema.
const ledger = defineDataset({
  name: "ledger_entries",
  description: "Ledger entries of a billing database (test contract).",
  source: { kind: "rds", table: "finance.ledger_entries" },
  ingestion: { volumeMb: 2000, durationMinutes: 20, latency: "batch" },
  primaryKey: ["entry_id"],
  eventTimeColumn: "booked_at",
  versionColumn: "changed_at",
  columns: [
    { name: "entry_id", type: "string", required: true, description: "Entry identifier" },
    { name: "region", type: "string", required: true, description: "Region" },
    { name: "line", type: "int", description: "Line number" },
    { name: "account_no", type: "bigint", description: "Account" },
    { name: "rate", type: "double", description: "Exchange rate" },
    { name: "settled", type: "boolean", description: "Settled" },
    { name: "value_date", type: "date", description: "Value date" },
    { name: "amount", type: "decimal(12,2)", required: true, description: "Amount" },
    { name: "booked_at", type: "timestamp", required: true, description: "Booking time (UTC)" },
    { name: "changed_at", type: "timestamp", required: true, description: "Last change (UTC)" },
  ],
});

const SPARK_READ = `
import json, sys
from pyspark.sql import SparkSession
url, table, user, password, jar = sys.argv[1:6]
spark = (SparkSession.builder.master("local[1]").appName("local-postgres-test")
         .config("spark.jars", jar).config("spark.ui.enabled", "false")
         .config("spark.sql.session.timeZone", "UTC").getOrCreate())
df = (spark.read.format("jdbc").option("url", url).option("dbtable", table)
      .option("user", user).option("password", password).option("driver", "org.postgresql.Driver").load())
rows = [{k: (None if v is None else str(v)) for k, v in r.asDict().items()} for r in df.collect()]
print(json.dumps({"columns": df.columns, "types": [f.dataType.simpleString() for f in df.schema.fields], "rows": rows}))
spark.stop()
`;

function psql(
  server: PostgresServer,
  password: string,
  sql: string,
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(
    "psql",
    [
      "-X",
      "-At",
      "-v",
      "ON_ERROR_STOP=1",
      "-h",
      server.host,
      "-p",
      String(server.port),
      "-U",
      server.user,
      "-d",
      server.database,
      "-c",
      sql,
    ],
    {
      encoding: "utf8",
      env: { ...process.env, PGPASSWORD: password, PGSSLMODE: "require", PGCONNECT_TIMEOUT: "10" },
    },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

describe("the local PostgreSQL source", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "local-postgres-"));
  const rows: Row[] = sampleRows(ledger, { partitioning: loadEnvironment("local").partitioning, count: 40, seed: 7 });
  let server: PostgresServer;

  beforeAll(async () => {
    // Fails the suite (with the command to run) when PostgreSQL or the driver cannot be installed.
    server = await startPostgres({ dataDir });
    await seedTable(server, ledger, rows);
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }, 120_000);

  it("listens on a port it chose free, named by its JDBC URL; rows take the environment's partition values", () => {
    expect(server.port).toBeGreaterThan(0);
    const regions = loadEnvironment("local").partitioning.keys.find((k) => k.name === "region");
    expect(regions?.type).toBe("enum");
    for (const row of rows) expect(regions?.type === "enum" && regions.values).toContain(row.region);
    expect(server.jdbcUrl).toBe(`jdbc:postgresql://127.0.0.1:${server.port}/${server.database}`);
  });

  it("PySpark reads the seeded table over JDBC (Debian's driver, TLS, the role's password): every row and column as seeded", () => {
    const python = join(ROOT, ".venv", "bin", "python");
    if (!existsSync(python))
      throw new Error("the project's Python is missing: run `npm run setup:py` (npm test does it)");
    expect(existsSync(POSTGRES_JDBC_JAR)).toBe(true);
    const script = join(dataDir, "read.py");
    writeFileSync(script, SPARK_READ);
    const result = spawnSync(
      python,
      [
        script,
        `${server.jdbcUrl}?sslmode=require`,
        "finance.ledger_entries",
        server.user,
        server.password,
        POSTGRES_JDBC_JAR,
      ],
      {
        encoding: "utf8",
        env: { ...process.env, PYSPARK_PYTHON: python, TZ: "UTC" },
        timeout: 240_000,
      },
    );
    if (result.status !== 0) throw new Error(`Spark failed (${result.status}):\n${result.stderr.slice(-4000)}`);
    const read = JSON.parse(defined(result.stdout.trim().split("\n").pop(), "the last line of stdout"));
    expect(read.columns).toEqual(ledger.columns.map((c) => c.name));
    expect(read.types).toEqual([
      "string",
      "string",
      "int",
      "bigint",
      "double",
      "boolean",
      "date",
      "decimal(12,2)",
      "timestamp",
      "timestamp",
    ]);
    const byId = new Map<string, Record<string, string | null>>(
      read.rows.map((r: Record<string, string | null>) => [r.entry_id, r]),
    );
    expect(byId.size).toBe(rows.length);
    for (const row of rows) {
      const got = defined(byId.get(String(row.entry_id)), `the read row ${row.entry_id}`);
      expect(got).toBeDefined();
      expect(got.region).toBe(row.region);
      expect(got.line).toBe(String(row.line));
      expect(got.account_no).toBe(String(row.account_no));
      expect(Number(got.rate)).toBe(row.rate);
      expect(got.settled).toBe(row.settled ? "True" : "False");
      expect(got.value_date).toBe(row.value_date);
      expect(got.amount).toBe(row.amount);
      // Spark and Python run in UTC here: the instant must be the seeded one.
      expect(Date.parse(`${defined(got.booked_at, "the read row's booked_at").replace(" ", "T")}Z`)).toBe(
        Date.parse(String(row.booked_at)),
      );
      expect(Date.parse(`${defined(got.changed_at, "the read row's changed_at").replace(" ", "T")}Z`)).toBe(
        Date.parse(String(row.changed_at)),
      );
    }
  }, 300_000);

  it("the role may read but not write, and only with its password", () => {
    expect(psql(server, server.password, "SELECT count(*) FROM finance.ledger_entries")).toMatchObject({
      status: 0,
      stdout: `${rows.length}\n`,
    });
    const write = psql(server, server.password, "DELETE FROM finance.ledger_entries");
    expect(write.status).not.toBe(0);
    expect(write.stderr).toMatch(/permission denied/);
    const wrong = psql(server, "not-the-password", "SELECT 1");
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toMatch(/password authentication failed/);
  });

  it("seeding again upserts by primary key: a changed row changes, a new row is added, nothing is duplicated", async () => {
    const changed = { ...rows[0], amount: "1.23", changed_at: "2024-01-03T23:59:59Z" };
    const added = { ...rows[1], entry_id: "NEW000001" };
    await seedTable(server, ledger, [changed, added]);
    expect(psql(server, server.password, "SELECT count(*) FROM finance.ledger_entries").stdout).toBe(
      `${rows.length + 1}\n`,
    );
    expect(
      psql(server, server.password, `SELECT amount FROM finance.ledger_entries WHERE entry_id = '${rows[0].entry_id}'`)
        .stdout,
    ).toBe("1.23\n");
  }, 120_000);

  it("a configured port is honoured, and stopping frees it", async () => {
    const other = mkdtempSync(join(tmpdir(), "local-postgres-port-"));
    try {
      const port = await freePort();
      const second = await startPostgres({ dataDir: other, port });
      expect(second.port).toBe(port);
      expect(await portIsFree(port)).toBe(false);
      expect(psql(second, second.password, "SELECT 1").stdout).toBe("1\n");
      await second.stop();
      expect(await portIsFree(port)).toBe(true);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  }, 300_000);
});
