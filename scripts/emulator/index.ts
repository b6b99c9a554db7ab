/**
 * Starts and stops the project's AWS emulator (launcher.py: moto over TLS, gaps filled) for
 * scripts and tests. The emulator dies with the process that started it: the launcher exits when
 * its stdin closes, and `stop()` also runs on this process's exit.
 *
 *   const emulator = await Emulator.start();
 *   spawnSync("terraform", ["apply"], { env: { ...process.env, ...emulator.env() } });
 *   await emulator.stop();
 */
import { ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { join } from "node:path";
import { createInterface } from "node:readline";

const ROOT = join(__dirname, "..", "..");
/** The emulator's default account; `local` deploys here. */
export const EMULATOR_ACCOUNT = "123456789012";

/** The access key that makes the emulator act as `accountId` (see launcher.py). */
export function emulatorAccessKey(accountId: string = EMULATOR_ACCOUNT): string {
  if (!/^\d{12}$/.test(accountId)) throw new Error(`account id must be 12 digits (got "${accountId}")`);
  return `AKIA${accountId}EMUL`;
}

export interface EmulatorOptions {
  /** Directory for TLS material and the server log. @default <repo>/.emulator */
  readonly stateDir?: string;
  /** Let the emulator run Step Functions executions for real (moto's ASL interpreter). @default false */
  readonly executeStateMachines?: boolean;
  /** How long to wait for the server to answer. @default 60 s */
  readonly startTimeoutMs?: number;
  /**
   * IAM for the components' assumed-role sessions (services/iam_enforce.py): "enforce" denies what
   * their policies do not allow, "observe" decides and logs only, "off" does neither.
   * @default process.env.EMULATOR_IAM, else "observe" (the launcher's default)
   */
  readonly iam?: "enforce" | "observe" | "off";
  /** The TLS port to listen on; start fails if it is taken. @default a free port */
  readonly port?: number;
  /**
   * Outlive this process (`npm run local:up`): the launcher does not watch its parent, and stop()
   * is not run on this process's exit. Stop it with `Emulator.connect(...).stop()` or its pid.
   * @default false
   */
  readonly detached?: boolean;
}

/** Counts of the emulator's IAM decision log for one phase (POST /_emulator/iam/decisions). */
export interface IamPhaseCounts {
  /** Requests to AWS APIs, by anyone. */
  readonly requests: number;
  /** Authorizations decided for assumed-role sessions (one request may need several: S3 + the implied KMS call). */
  readonly decided: number;
  readonly allowed: number;
  readonly denied: number;
  /** Requests signed with terraform's (the account's) key. */
  readonly terraformSigned: number;
  /** AssumeRole calls of the emulator's services for a component's role (trust-checked; the service's principal). */
  readonly serviceAssumeRole: number;
  readonly unsigned: number;
  /** Signed with a key that is neither (e.g. moto's fixed "ak"). */
  readonly other: number;
}

export interface IamDecisionSummary {
  readonly phase: string;
  /** The JSON-lines decision log. */
  readonly log: string;
  readonly counts: Readonly<Record<string, IamPhaseCounts>>;
  /** The last denials: principal, action, resource, reason. */
  readonly denials: readonly {
    phase: string;
    principal: string;
    role: string;
    action: string;
    resource: string;
    reason: string;
  }[];
  /** Per role ARN: "<action> <policy>/<sid>" → how often that grant allowed a request. */
  readonly exercised: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

/** What a running emulator is reached by; `Emulator.connect` takes it back. */
export interface EmulatorConnection {
  readonly endpoint: string;
  readonly caBundle: string;
  readonly insecureEndpoint: string;
  readonly logFile: string;
  readonly pid: number;
}

export class Emulator {
  /** "https://127.0.0.1:<port>" */
  readonly endpoint: string;
  /** PEM bundle (system CAs + the emulator's CA) for every client: terraform, SDKs, boto3. */
  readonly caBundle: string;
  /** Plain-HTTP loopback listener moto uses for its own callbacks; tests use it to prove TLS-only policies. */
  readonly insecureEndpoint: string;
  readonly logFile: string;
  /** The launcher's process id. */
  readonly pid: number;
  private stopped = false;
  private readonly onExit = () => this.kill();

  private constructor(
    private readonly child: ChildProcess | undefined,
    ready: ReadyLine,
    logFile: string,
    ownsExit = true,
  ) {
    this.endpoint = ready.endpoint;
    this.caBundle = ready.caBundle;
    this.insecureEndpoint = ready.insecureEndpoint;
    this.logFile = logFile;
    this.pid = ready.pid;
    if (ownsExit) process.once("exit", this.onExit);
  }

  /** An emulator another process started (detached); stop() sends its launcher SIGTERM. */
  static connect(connection: EmulatorConnection): Emulator {
    return new Emulator(undefined, connection, connection.logFile, false);
  }

  /** What `connect` needs, for a state file. */
  connection(): EmulatorConnection {
    return {
      endpoint: this.endpoint,
      caBundle: this.caBundle,
      insecureEndpoint: this.insecureEndpoint,
      logFile: this.logFile,
      pid: this.pid,
    };
  }

  static async start(options: EmulatorOptions = {}): Promise<Emulator> {
    const python = join(ROOT, ".venv", "bin", "python");
    if (!existsSync(python)) {
      throw new Error(
        "The emulator needs the project's Python environment: run `npm run setup:py` (npm test and npm start do it).",
      );
    }
    const stateDir = options.stateDir ?? join(ROOT, ".emulator");
    mkdirSync(stateDir, { recursive: true });
    const logFile = join(stateDir, `emulator-${process.pid}-${Date.now()}.log`);
    // The server log goes straight to a file: piping it through this process would stall the
    // emulator whenever this process blocks (e.g. in spawnSync("terraform", ...)).
    const log = openSync(logFile, "a");
    if (options.port !== undefined) await requireFreePort(options.port);
    const args = [
      join(__dirname, "launcher.py"),
      "--state-dir",
      stateDir,
      "--port",
      String(options.port ?? 0),
      ...(options.detached ? ["--detached"] : []),
    ];
    const child = spawn(python, args, {
      cwd: ROOT,
      stdio: [options.detached ? "ignore" : "pipe", "pipe", log],
      env: { ...process.env, PYTHONUNBUFFERED: "1", ...(options.iam ? { EMULATOR_IAM: options.iam } : {}) },
      detached: options.detached,
    });
    closeSync(log);
    const stdout = child.stdout;
    if (!stdout) throw new Error("the emulator's stdout is not a pipe");
    const ready = await new Promise<ReadyLine>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(
          new Error(`emulator did not start within ${(options.startTimeoutMs ?? 60_000) / 1000} s; see ${logFile}`),
        );
      }, options.startTimeoutMs ?? 60_000);
      const lines = createInterface({ input: stdout });
      lines.once("line", (line) => {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(line));
        } catch {
          reject(new Error(`emulator printed an unexpected line: ${line}; see ${logFile}`));
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`emulator exited with code ${code} before it was ready:\n${safeRead(logFile).slice(-2000)}`));
      });
    });
    let emulator: Emulator;
    if (options.detached) {
      // Nothing more is read from it; let this process exit while it runs on.
      stdout.destroy();
      child.removeAllListeners("exit");
      child.unref();
      emulator = new Emulator(undefined, ready, logFile, false);
    } else emulator = new Emulator(child, ready, logFile);
    if (options.executeStateMachines) await emulator.configure({ stepfunctions: { execute_state_machine: true } });
    return emulator;
  }

  /** The emulator's listening port. */
  get port(): number {
    return Number(new URL(this.endpoint).port);
  }

  /**
   * Environment for clients of the emulator acting as `accountId` (the access key selects the
   * account): AWS SDKs, boto3, the terraform AWS provider (and `var.emulator_endpoint`).
   */
  env(accountId: string = EMULATOR_ACCOUNT, region = "us-east-1"): Record<string, string> {
    return {
      AWS_ACCESS_KEY_ID: emulatorAccessKey(accountId),
      AWS_SECRET_ACCESS_KEY: "emulator",
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ENDPOINT_URL: this.endpoint,
      AWS_CA_BUNDLE: this.caBundle,
      NODE_EXTRA_CA_CERTS: this.caBundle,
      TF_VAR_emulator_endpoint: this.endpoint,
    };
  }

  /** An https.Agent trusting the emulator, for SDK clients created inside an already-running process. */
  httpsAgent(): Agent {
    return new Agent({ ca: readFileSync(this.caBundle), keepAlive: true });
  }

  /** POST /moto-api/config (e.g. `{ stepfunctions: { execute_state_machine: true } }`). */
  async configure(config: Record<string, unknown>): Promise<void> {
    await this.call("POST", "/moto-api/config", config);
  }

  /**
   * The IAM decision log's counts per phase, its last denials and what each role exercised. The
   * end-to-end run's report can print `counts.data` (decided, denied) after `iamPhase("data")`.
   */
  async iamDecisions(): Promise<IamDecisionSummary> {
    return JSON.parse(await this.call("POST", "/_emulator/iam/decisions", {}));
  }

  /** Starts a phase of the decision log (e.g. "data" after the deploy): counts are kept per phase. */
  async iamPhase(phase: string): Promise<void> {
    await this.call("POST", "/_emulator/iam/phase", { phase });
  }

  /** Forgets every resource (POST /moto-api/reset). */
  async reset(): Promise<void> {
    await this.call("POST", "/moto-api/reset");
  }

  /** True when the server answers over TLS. */
  async healthy(): Promise<boolean> {
    try {
      await this.call("GET", "/moto-api/data.json");
      return true;
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    process.removeListener("exit", this.onExit);
    const child = this.child;
    if (!child) return stopPid(this.pid);
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once("exit", () => resolve());
    });
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  private kill(): void {
    if (!this.stopped) this.child?.kill("SIGKILL");
  }

  private call(method: string, path: string, body?: unknown): Promise<string> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.endpoint}${path}`,
        { method, ca: readFileSync(this.caBundle), headers: payload ? { "content-type": "application/json" } : {} },
        (res) => {
          let data = "";
          res.on("data", (chunk) => (data += chunk));
          res.on("end", () =>
            res.statusCode && res.statusCode < 300
              ? resolve(data)
              : reject(new Error(`${method} ${path}: HTTP ${res.statusCode} ${data}`)),
          );
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }
}

interface ReadyLine {
  readonly endpoint: string;
  readonly caBundle: string;
  readonly insecureEndpoint: string;
  readonly pid: number;
}

/** True while a process with this id exists. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** SIGTERM, then SIGKILL after 10 s; resolves when the process is gone. */
async function stopPid(pid: number): Promise<void> {
  if (!processAlive(pid)) return;
  process.kill(pid, "SIGTERM");
  for (let waited = 0; processAlive(pid); waited += 100) {
    if (waited === 10_000) process.kill(pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Fails, naming the port and the variable to change, when something already listens on it. */
export async function requireFreePort(port: number, variable = "DATAPLAT_LOCAL_EMULATOR_PORT"): Promise<void> {
  const { createServer } = await import("node:net");
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new Error(
          e.code === "EADDRINUSE"
            ? `port ${port} on 127.0.0.1 is taken: stop what listens there or set ${variable} to another port`
            : `port ${port}: ${e.message}`,
        ),
      ),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}
