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
  readonly denials: readonly { principal: string; role: string; action: string; resource: string; reason: string }[];
  /** Per role ARN: "<action> <policy>/<sid>" → how often that grant allowed a request. */
  readonly exercised: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

export class Emulator {
  /** "https://127.0.0.1:<port>" */
  readonly endpoint: string;
  /** PEM bundle (system CAs + the emulator's CA) for every client: terraform, SDKs, boto3. */
  readonly caBundle: string;
  /** Plain-HTTP loopback listener moto uses for its own callbacks; tests use it to prove TLS-only policies. */
  readonly insecureEndpoint: string;
  readonly logFile: string;
  private stopped = false;
  private readonly onExit = () => this.kill();

  private constructor(private readonly child: ChildProcess, ready: ReadyLine, logFile: string) {
    this.endpoint = ready.endpoint;
    this.caBundle = ready.caBundle;
    this.insecureEndpoint = ready.insecureEndpoint;
    this.logFile = logFile;
    process.once("exit", this.onExit);
  }

  static async start(options: EmulatorOptions = {}): Promise<Emulator> {
    const python = join(ROOT, ".venv", "bin", "python");
    if (!existsSync(python)) {
      throw new Error("The emulator needs the project's Python environment: run `npm run setup:py` (npm test and npm start do it).");
    }
    const stateDir = options.stateDir ?? join(ROOT, ".emulator");
    mkdirSync(stateDir, { recursive: true });
    const logFile = join(stateDir, `emulator-${process.pid}-${Date.now()}.log`);
    // The server log goes straight to a file: piping it through this process would stall the
    // emulator whenever this process blocks (e.g. in spawnSync("terraform", ...)).
    const log = openSync(logFile, "a");
    const child = spawn(python, [join(__dirname, "launcher.py"), "--state-dir", stateDir], {
      cwd: ROOT,
      stdio: ["pipe", "pipe", log],
      env: { ...process.env, PYTHONUNBUFFERED: "1", ...(options.iam ? { EMULATOR_IAM: options.iam } : {}) },
    });
    closeSync(log);
    const ready = await new Promise<ReadyLine>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`emulator did not start within ${(options.startTimeoutMs ?? 60_000) / 1000} s; see ${logFile}`));
      }, options.startTimeoutMs ?? 60_000);
      const lines = createInterface({ input: child.stdout! });
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
    const emulator = new Emulator(child, ready, logFile);
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
    const exited = new Promise<void>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) resolve();
      else this.child.once("exit", () => resolve());
    });
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  private kill(): void {
    if (!this.stopped) this.child.kill("SIGKILL");
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
          res.on("end", () => (res.statusCode && res.statusCode < 300 ? resolve(data) : reject(new Error(`${method} ${path}: HTTP ${res.statusCode} ${data}`))));
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
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}
