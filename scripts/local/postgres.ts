/**
 * The RDS source of the local cloud: a real PostgreSQL server (Debian's `postgresql`, with the JDBC
 * driver of `libpostgresql-jdbc-java` at /usr/share/java/postgresql.jar for Spark), in a data
 * directory under .emulator/, on a free or configured loopback port.
 *
 *   const pg = await startPostgres();          // installs (as root) / initdb / starts / creates the role and database
 *   await seedTable(pg, contract, sampleRows(contract, { partitioning }));
 *   pg.jdbcUrl; pg.user; pg.password;          // what the Glue connection and its secret name
 *   await storeCredentials(pg, { endpoint, region, secretId });   // the deployed secret's value
 *   await pg.stop();
 *
 * The login role the credentials name may only read: tables are created and written by the
 * superuser (over the data directory's Unix socket, trust auth), the role gets SELECT on each
 * table, as a source database's read-only extract user would. TCP connections need the role's
 * password (scram-sha-256) and may use TLS: the server has a self-signed certificate, because the
 * deployed Glue connection enforces SSL.
 *
 * Port: `port` if given, else DATAPLAT_LOCAL_RDS_PORT, else a free one. environments/local.ts reads
 * the same variable for its JDBC URL, so start the server first and export the port before synth.
 *
 * CLI: tsx scripts/local/postgres.ts install | start | stop  (start prints the connection as JSON
 * and leaves the server running; stop stops the server of the data directory).
 */
import { execFileSync, spawnSync, type SpawnSyncOptions } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import type { ColumnType, DatasetContract } from "../../datasets";
import type { PartitionSpec } from "../../environments";
import { defined } from "../../modules/shared/defined";
import { LOCAL_RDS_DATABASE, LOCAL_RDS_PORT_VARIABLE, localPort } from "../../environments/local";

const ROOT = resolve(__dirname, "..", "..");
/** Where the driver jar lands (libpostgresql-jdbc-java). */
export const POSTGRES_JDBC_JAR = "/usr/share/java/postgresql.jar";
/** The Debian packages that provide the server and the driver. */
export const POSTGRES_PACKAGES = ["postgresql", "libpostgresql-jdbc-java"] as const;
const INSTALL_COMMAND = `sudo apt-get update && sudo apt-get install -y ${POSTGRES_PACKAGES.join(" ")}`;
/** The variable environments/local.ts and startPostgres read the port from. */
export const PORT_VARIABLE = LOCAL_RDS_PORT_VARIABLE;

export interface PostgresOptions {
  /** @default <repo>/.emulator/postgres */
  readonly dataDir?: string;
  /** @default $DATAPLAT_LOCAL_RDS_PORT, else a free port */
  readonly port?: number;
  /** @default LOCAL_RDS_DATABASE: the database `local`'s JDBC URL names */
  readonly database?: string;
  /** The read-only login role. @default "extract" */
  readonly user?: string;
}

export interface PostgresServer {
  readonly jdbcUrl: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  readonly dataDir: string;
  /** Stops the server (fast shutdown); the data directory stays for the next start. */
  stop(): Promise<void>;
}

/** The server's binaries: Debian installs them under /usr/lib/postgresql/<major>/bin. */
export function postgresBinDir(): string | undefined {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return undefined;
  const majors = readdirSync(base)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(base, v, "bin", "postgres")))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length ? join(base, majors[0], "bin") : undefined;
}

/**
 * Installs the server and the JDBC driver when either is missing (apt-get, as root; `apt-get update`
 * only when the package lists do not know them). Fails naming the command to run otherwise.
 */
export function ensurePostgresInstalled(): { binDir: string; jdbcJar: string } {
  const missing = () => !postgresBinDir() || !existsSync(POSTGRES_JDBC_JAR);
  if (missing()) {
    if (process.platform !== "linux" || !existsSync("/usr/bin/apt-get")) {
      throw new Error(
        `PostgreSQL and its JDBC driver are not installed and this is not a Debian system: install PostgreSQL 15 and ${POSTGRES_JDBC_JAR} (Debian: ${INSTALL_COMMAND})`,
      );
    }
    if (process.getuid?.() !== 0)
      throw new Error(
        `PostgreSQL and its JDBC driver are not installed; installing needs root: run \`${INSTALL_COMMAND}\``,
      );
    const apt = (args: string[]) =>
      spawnSync("apt-get", args, { encoding: "utf8", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    let result = apt(["install", "-y", "--no-install-recommends", ...POSTGRES_PACKAGES]);
    if (result.status !== 0) {
      const update = apt(["update"]);
      if (update.status !== 0)
        throw new Error(
          `apt-get update failed (${update.status}):\n${update.stderr}\nRun \`${INSTALL_COMMAND}\` by hand`,
        );
      result = apt(["install", "-y", "--no-install-recommends", ...POSTGRES_PACKAGES]);
    }
    if (result.status !== 0 || missing())
      throw new Error(
        `apt-get install ${POSTGRES_PACKAGES.join(" ")} failed (${result.status}):\n${result.stderr}\nRun \`${INSTALL_COMMAND}\` by hand`,
      );
  }
  return { binDir: defined(postgresBinDir(), "the PostgreSQL bin directory"), jdbcJar: POSTGRES_JDBC_JAR };
}

/** A free loopback TCP port (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** The port from PORT_VARIABLE (checked as environments/local.ts checks it); undefined when unset. */
export function configuredPort(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return env[PORT_VARIABLE] ? localPort(PORT_VARIABLE, 0, "ingestion.rds.jdbcUrl", env) : undefined;
}

/**
 * PostgreSQL refuses to run as root: as root, every server command runs as the `postgres` OS user
 * (which the Debian package creates) and the data directory belongs to it.
 */
function osUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  return { uid, gid };
}

function run(
  binDir: string,
  command: string,
  args: string[],
  options: SpawnSyncOptions & { input?: string } = {},
): string {
  const user = osUser();
  const result = spawnSync(join(binDir, command), args, {
    encoding: "utf8",
    ...options,
    ...(user ?? {}),
    env: { ...process.env, LC_ALL: "C.UTF-8", ...options.env },
  });
  if (result.error) throw new Error(`${command} could not run: ${result.error.message}`);
  if (result.status !== 0)
    throw new Error(
      `${command} ${args.join(" ")} failed (${result.status}):\n${String(result.stderr || result.stdout)}`,
    );
  return String(result.stdout);
}

interface Stored {
  readonly database: string;
  readonly user: string;
  readonly password: string;
}

/**
 * Starts (and on first use installs and initializes) the server, and makes sure the database and
 * the read-only login role exist with the password stored beside the data directory.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const { binDir } = ensurePostgresInstalled();
  const dataDir = resolve(options.dataDir ?? join(ROOT, ".emulator", "postgres"));
  const pgdata = join(dataDir, "data");
  const socketDir = join(dataDir, "socket");
  const credentialsFile = join(dataDir, "credentials.json");
  const user = osUser();
  mkdirSync(socketDir, { recursive: true });
  if (user) {
    chownSync(dataDir, user.uid, user.gid);
    chownSync(socketDir, user.uid, user.gid);
  }

  const stored: Stored = existsSync(credentialsFile)
    ? JSON.parse(readFileSync(credentialsFile, "utf8"))
    : {
        database: options.database ?? LOCAL_RDS_DATABASE,
        user: options.user ?? "extract",
        password: randomBytes(18).toString("base64url"),
      };
  if ((options.database && options.database !== stored.database) || (options.user && options.user !== stored.user)) {
    throw new Error(
      `${dataDir} holds database ${stored.database} and role ${stored.user}; remove the directory or ask for those (got ${options.database ?? stored.database}, ${options.user ?? stored.user})`,
    );
  }
  if (!existsSync(credentialsFile)) {
    writeFileSync(credentialsFile, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  }

  if (!existsSync(join(pgdata, "PG_VERSION"))) {
    mkdirSync(pgdata, { recursive: true });
    if (user) chownSync(pgdata, user.uid, user.gid);
    chmodSync(pgdata, 0o700);
    // Local socket: trust (only the data directory's owner can reach it); TCP: passwords only.
    run(binDir, "initdb", [
      "-D",
      pgdata,
      "-U",
      "postgres",
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "-E",
      "UTF8",
      "--no-instructions",
    ]);
    // A self-signed certificate, so clients may use TLS as the deployed connection (JDBC_ENFORCE_SSL) does.
    const cert = spawnSync(
      "openssl",
      [
        "req",
        "-new",
        "-x509",
        "-days",
        "3650",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        join(pgdata, "server.key"),
        "-out",
        join(pgdata, "server.crt"),
      ],
      { encoding: "utf8" },
    );
    if (cert.status !== 0)
      throw new Error(
        `openssl could not create the server certificate (${cert.status}): ${cert.stderr || cert.error?.message} (Debian: apt-get install -y openssl)`,
      );
    chmodSync(join(pgdata, "server.key"), 0o600);
    if (user) for (const f of ["server.key", "server.crt"]) chownSync(join(pgdata, f), user.uid, user.gid);
  }

  const port = options.port ?? configuredPort() ?? (await freePort());
  const status = spawnSync(join(binDir, "pg_ctl"), ["-D", pgdata, "status"], { encoding: "utf8", ...(user ?? {}) });
  if (status.status === 0)
    throw new Error(`a server already runs in ${pgdata}: stop it first (tsx scripts/local/postgres.ts stop)`);
  run(binDir, "pg_ctl", [
    "-D",
    pgdata,
    "-l",
    join(dataDir, "server.log"),
    "-w",
    "-t",
    "60",
    // fsync off: a disposable development server, re-seeded from contracts, trades durability for speed.
    "-o",
    `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c ssl=on -c fsync=off`,
    "start",
  ]);

  const sql = (database: string, text: string) =>
    run(
      binDir,
      "psql",
      [
        "-X",
        "-q",
        "-At",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        socketDir,
        "-p",
        String(port),
        "-U",
        "postgres",
        "-d",
        database,
      ],
      { input: text },
    );
  const literal = (v: string) => `'${v.replace(/'/g, "''")}'`;
  const role = ident(stored.user);
  sql(
    "postgres",
    `DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${literal(stored.user)}) THEN CREATE ROLE ${role} LOGIN; END IF;
  END $$;
  ALTER ROLE ${role} LOGIN PASSWORD ${literal(stored.password)};`,
  );
  if (sql("postgres", `SELECT 1 FROM pg_database WHERE datname = ${literal(stored.database)}`).trim() !== "1")
    sql("postgres", `CREATE DATABASE ${ident(stored.database)}`);
  sql(stored.database, `GRANT CONNECT ON DATABASE ${ident(stored.database)} TO ${role};`);

  const server: PostgresServer & { socketDir: string; binDir: string } = {
    jdbcUrl: `jdbc:postgresql://127.0.0.1:${port}/${stored.database}`,
    host: "127.0.0.1",
    port,
    database: stored.database,
    user: stored.user,
    password: stored.password,
    dataDir,
    socketDir,
    binDir,
    stop: async () => stopPostgres({ dataDir }),
  };
  return server;
}

/** The server already running from `dataDir` on `port` (one `startPostgres` started, e.g. in another process). */
export function attachPostgres(options: { dataDir: string; port: number }): PostgresServer {
  const binDir = postgresBinDir();
  if (!binDir) throw new Error(`PostgreSQL is not installed: run \`${INSTALL_COMMAND}\``);
  const dataDir = resolve(options.dataDir);
  const stored: Stored = JSON.parse(readFileSync(join(dataDir, "credentials.json"), "utf8"));
  const server: PostgresServer & { socketDir: string; binDir: string } = {
    jdbcUrl: `jdbc:postgresql://127.0.0.1:${options.port}/${stored.database}`,
    host: "127.0.0.1",
    port: options.port,
    database: stored.database,
    user: stored.user,
    password: stored.password,
    dataDir,
    socketDir: join(dataDir, "socket"),
    binDir,
    stop: async () => stopPostgres({ dataDir }),
  };
  return server;
}

/** Stops the server of a data directory if one runs there. */
export async function stopPostgres(options: { dataDir?: string } = {}): Promise<void> {
  const binDir = postgresBinDir();
  if (!binDir) return;
  const pgdata = join(resolve(options.dataDir ?? join(ROOT, ".emulator", "postgres")), "data");
  if (!existsSync(join(pgdata, "postmaster.pid"))) return;
  run(binDir, "pg_ctl", ["-D", pgdata, "-m", "fast", "-w", "-t", "60", "stop"]);
}

/** A quoted SQL identifier. */
function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** PostgreSQL's type for each contract column type. */
export function postgresType(type: ColumnType): string {
  if (type.startsWith("decimal(")) return type.replace("decimal", "numeric");
  const map: Record<string, string> = {
    string: "text",
    int: "integer",
    bigint: "bigint",
    double: "double precision",
    boolean: "boolean",
    date: "date",
    timestamp: "timestamptz",
  };
  const mapped = map[type];
  if (!mapped) throw new Error(`no PostgreSQL type is known for column type ${type}`);
  return mapped;
}

/** "<schema>.<table>" of an rds contract's source (schema "public" when unqualified). */
export function sourceTable(contract: DatasetContract): { schema: string; table: string } {
  if (contract.source.kind !== "rds")
    throw new Error(`dataset ${contract.name}: its source is ${contract.source.kind}, not an RDS table`);
  const [schema, table] = contract.source.table.includes(".")
    ? contract.source.table.split(".", 2)
    : ["public", contract.source.table];
  return { schema, table };
}

export type Row = Readonly<Record<string, string | number | boolean | null>>;

/**
 * Creates the contract's source table (its columns and primary key; no NOT NULL, so a source row the
 * contract rejects can be stored and quarantined downstream) and upserts the rows by primary key:
 * seeding twice with changed rows changes them, as the application would. The read-only role may
 * SELECT it.
 */
export async function seedTable(
  server: PostgresServer,
  contract: DatasetContract,
  rows: readonly Row[],
): Promise<{ schema: string; table: string; rows: number }> {
  const { schema, table } = sourceTable(contract);
  const { socketDir, binDir } = server as PostgresServer & { socketDir: string; binDir: string };
  const qualified = `${ident(schema)}.${ident(table)}`;
  const names = contract.columns.map((c) => c.name);
  const value = (v: Row[string] | undefined) =>
    v === null || v === undefined ? "NULL" : typeof v === "string" ? `'${v.replace(/'/g, "''")}'` : String(v);
  const statements = [
    "BEGIN;",
    `CREATE SCHEMA IF NOT EXISTS ${ident(schema)};`,
    `CREATE TABLE IF NOT EXISTS ${qualified} (${contract.columns.map((c) => `${ident(c.name)} ${postgresType(c.type)}`).join(", ")}, PRIMARY KEY (${contract.primaryKey.map(ident).join(", ")}));`,
    `GRANT USAGE ON SCHEMA ${ident(schema)} TO ${ident(server.user)};`,
    `GRANT SELECT ON ${qualified} TO ${ident(server.user)};`,
    ...rows.map((row) => {
      const updates = names
        .filter((n) => !contract.primaryKey.includes(n))
        .map((n) => `${ident(n)} = EXCLUDED.${ident(n)}`);
      return `INSERT INTO ${qualified} (${names.map(ident).join(", ")}) VALUES (${names.map((n) => value(row[n])).join(", ")}) ON CONFLICT (${contract.primaryKey.map(ident).join(", ")}) ${updates.length ? `DO UPDATE SET ${updates.join(", ")}` : "DO NOTHING"};`;
    }),
    "COMMIT;",
  ];
  run(
    binDir,
    "psql",
    [
      "-X",
      "-q",
      "-v",
      "ON_ERROR_STOP=1",
      "-h",
      socketDir,
      "-p",
      String(server.port),
      "-U",
      "postgres",
      "-d",
      server.database,
    ],
    { input: statements.join("\n") },
  );
  return { schema, table, rows: rows.length };
}

export interface SampleRowOptions {
  /** Rows to generate. @default 50 */
  readonly count?: number;
  /** @default 1 */
  readonly seed?: number;
  /** The environment's partition spec: enum keys take their allowed values, the first date key its range start. */
  readonly partitioning?: PartitionSpec;
  /** Days the event-time column spreads over, from the date key's range start (or 2024-01-01). @default 3 */
  readonly days?: number;
}

/**
 * Rows generated from the contract's columns alone, deterministic for a seed: every column gets a
 * value of its type (primary keys unique, enum partition columns one of the spec's values, the
 * event-time and version columns within the first days the partition projection covers).
 */
export function sampleRows(contract: DatasetContract, options: SampleRowOptions = {}): Row[] {
  const count = options.count ?? 50;
  let state = options.seed ?? 1;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const keys = options.partitioning?.keys ?? [];
  const dateKey = keys.find((k) => k.type === "date");
  const start = Date.parse(`${dateKey && dateKey.type === "date" ? dateKey.rangeStart : "2024-01-01"}T00:00:00Z`);
  const days = options.days ?? 3;
  const enumValues = new Map(keys.flatMap((k) => (k.type === "enum" ? [[k.name, k.values] as const] : [])));
  const rows: Row[] = [];
  for (let i = 1; i <= count; i++) {
    const eventTime = start + Math.floor(random() * days * 86_400) * 1000;
    const row: Record<string, string | number | boolean | null> = {};
    for (const column of contract.columns) {
      const name = column.name;
      const values = enumValues.get(name);
      if (contract.primaryKey.includes(name)) {
        row[name] =
          column.type === "int" || column.type === "bigint"
            ? i
            : `${name.replace(/_id$/, "").slice(0, 3).toUpperCase()}${String(i).padStart(6, "0")}`;
      } else if (values) {
        row[name] = values[Math.floor(random() * values.length)];
      } else if (name === contract.eventTimeColumn || name === contract.versionColumn) {
        row[name] = new Date(eventTime).toISOString().replace(".000Z", "Z");
      } else {
        row[name] = valueOf(column.type, name, i, random, eventTime);
      }
    }
    rows.push(row);
  }
  return rows;
}

function valueOf(
  type: ColumnType,
  name: string,
  i: number,
  random: () => number,
  eventTime: number,
): string | number | boolean {
  const decimal = /^decimal\((\d+),(\d+)\)$/.exec(type);
  if (decimal) {
    const scale = Number(decimal[2]);
    const max = Math.min(10 ** (Number(decimal[1]) - scale) - 1, 100_000);
    return (random() * max).toFixed(scale);
  }
  switch (type) {
    case "int":
    case "bigint":
      return Math.floor(random() * 1000);
    case "double":
      return Math.round(random() * 100_000) / 100;
    case "boolean":
      return random() < 0.5;
    case "date":
      return new Date(eventTime).toISOString().slice(0, 10);
    case "timestamp":
      return new Date(eventTime).toISOString().replace(".000Z", "Z");
    default:
      return `${name}-${i % 7}`;
  }
}

/** Puts the server's credentials into the deployed secret the Glue connection's SECRET_ID names. */
export async function storeCredentials(
  server: PostgresServer,
  target: {
    endpoint: string;
    region: string;
    secretId: string;
    credentials?: { accessKeyId: string; secretAccessKey: string };
    caBundle?: string;
  },
): Promise<void> {
  const { SecretsManagerClient, PutSecretValueCommand } = await import("@aws-sdk/client-secrets-manager");
  // Credentials and the emulator's CA from the caller when given (a process whose own environment has neither).
  const requestHandler = target.caBundle
    ? { httpsAgent: new (await import("node:https")).Agent({ ca: readFileSync(target.caBundle) }) }
    : undefined;
  const client = new SecretsManagerClient({
    endpoint: target.endpoint,
    region: target.region,
    credentials: target.credentials,
    requestHandler,
  });
  await client.send(
    new PutSecretValueCommand({
      SecretId: target.secretId,
      SecretString: JSON.stringify({ username: server.user, password: server.password }),
    }),
  );
}

if (require.main === module) {
  const command = process.argv[2];
  const main = async () => {
    if (command === "install") console.log(JSON.stringify(ensurePostgresInstalled()));
    else if (command === "start") {
      const pg = await startPostgres();
      console.log(
        JSON.stringify({
          jdbcUrl: pg.jdbcUrl,
          host: pg.host,
          port: pg.port,
          database: pg.database,
          user: pg.user,
          dataDir: pg.dataDir,
          [PORT_VARIABLE]: pg.port,
        }),
      );
    } else if (command === "stop") await stopPostgres();
    else throw new Error("usage: tsx scripts/local/postgres.ts install | start | stop");
  };
  main().catch((e: Error) => {
    console.error(e.message);
    process.exit(1);
  });
}
