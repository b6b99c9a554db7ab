/**
 * Safe state: every remote backend is encrypted and locked; prod's data cannot be destroyed by a
 * stray plan; each stack is tied to its one account; and nothing secret is synthesized.
 * (That a prod config is really refused in another account is shown with terraform against the
 * emulator: __tests__/integration/emulated-deploy.test.ts, "allowed_account_ids stops the prod config …".)
 */
import { Testing } from "cdktf";
import { SecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/secretsmanager-secret-version";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { EnvironmentConfig } from "../../environments";
import { PlatformStack } from "../../modules/platform-stack";
import { DATA_RESOURCE_TYPES, NOT_DATA_RESOURCE_TYPES } from "../../modules/shared/protection";
import { findSecrets, findSecretsInText } from "../../scripts/lib/secret-scan";
import { resources, synthAll, synthNamed, type TerraformJson } from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

describe("remote state", () => {
  it.each(synthAll().map((e) => [e.config.name, e] as const))(
    "%s: a remote backend is encrypted and locked; only local keeps a local file",
    (_name, { config, json }) => {
      const [[kind, settings]] = Object.entries(json.terraform.backend) as [string, Record<string, unknown>][];
      if (config.tier === "local") {
        expect(kind).toBe("local");
        return;
      }
      expect(kind).not.toBe("local");
      expect(settings).toMatchObject({ encrypt: true, use_lockfile: true, allowed_account_ids: [config.accountId] });
    },
  );
});

describe("prevent_destroy on prod data", () => {
  const prod = synthNamed("prod").json;

  it("data and not-data are decided once, for every store the platform creates", () => {
    expect(Object.keys(DATA_RESOURCE_TYPES).filter((t) => t in NOT_DATA_RESOURCE_TYPES)).toEqual([]);
    const stores = [
      "aws_s3_bucket",
      "aws_kms_key",
      "aws_redshiftserverless_namespace",
      "aws_kinesis_stream",
      "aws_sqs_queue",
      "aws_secretsmanager_secret",
      "aws_cloudwatch_log_group",
    ];
    expect(Object.keys(DATA_RESOURCE_TYPES)).toEqual(expect.arrayContaining(stores));
    // Every resource type that keeps state of its own in any environment is on one of the lists.
    const considered = { ...DATA_RESOURCE_TYPES, ...NOT_DATA_RESOURCE_TYPES };
    const stateful = new RegExp(
      "^aws_(?:s3_bucket|s3_object|kms_key|redshiftserverless_(?:namespace|workgroup)|kinesis_stream|kinesis_firehose_delivery_stream|sqs_queue|sns_topic|" +
        "secretsmanager_secret|cloudwatch_log_group|glue_(?:catalog_database|catalog_table|job|crawler|connection)|athena_workgroup|sfn_state_machine|pipes_pipe|" +
        "lambda_function|emrserverless_application|quicksight_data_(?:set|source)|scheduler_schedule)$|^aws_(?:dynamodb_|efs_|db_|rds_|elasticache_|opensearch|msk_|timestream|memorydb_|docdb_|neptune_)",
    );
    const types = new Set(synthAll().flatMap((e) => resources(e.json).map((r) => r.type)));
    expect([...types].filter((t) => stateful.test(t) && !(t in considered))).toEqual([]);
  });

  it("every prod resource that holds data is prevent_destroy", () => {
    const data = resources(prod).filter((r) => r.type in DATA_RESOURCE_TYPES);
    expect(data.length).toBeGreaterThan(30);
    expect(data.filter((r) => r.body.lifecycle?.prevent_destroy !== true).map((r) => `${r.type}.${r.name}`)).toEqual(
      [],
    );
  });

  it("nothing else in prod is prevent_destroy (code and settings stay replaceable), and nothing is force-destroyable", () => {
    const protectedOthers = resources(prod).filter(
      (r) => r.body.lifecycle?.prevent_destroy && !(r.type in DATA_RESOURCE_TYPES),
    );
    expect(protectedOthers.map((r) => r.type)).toEqual([]);
    expect(
      resources(prod)
        .filter((r) => r.body.force_destroy === true)
        .map((r) => `${r.type}.${r.name}`),
    ).toEqual([]);
  });

  it.each(["dev", "staging", "local"])("%s data is not prevent_destroy (as its config says)", (name) => {
    const { config, json } = synthNamed(name);
    expect(config.protection.preventDestroy).toBe(false);
    expect(
      resources(json)
        .filter((r) => r.body.lifecycle?.prevent_destroy)
        .map((r) => `${r.type}.${r.name}`),
    ).toEqual([]);
  });
});

describe("each stack is tied to its account", () => {
  it.each(synthAll().map((e) => [e.config.name, e] as const))(
    "%s: the provider and the backend allow only the environment's account",
    (_name, { config, json }) => {
      expect(config.accountId).toMatch(/^\d{12}$/);
      expect(json.provider.aws).toHaveLength(1);
      expect(json.provider.aws[0].allowed_account_ids).toEqual([config.accountId]);
      expect(json.provider.aws[0].forbidden_account_ids).toBeUndefined();
      const backend = Object.values(json.terraform.backend)[0] as Record<string, unknown>;
      if (config.tier !== "local") expect(backend.allowed_account_ids).toEqual([config.accountId]);
    },
  );
});

/** The synth output of one environment as `cdktf synth` writes it: the stack JSON and every asset file. */
function synthOutput(
  config: EnvironmentConfig,
  extend?: (stack: PlatformStack) => void,
): { json: TerraformJson; files: Record<string, Buffer> } {
  const stack = new PlatformStack(Testing.app(), config);
  extend?.(stack);
  const outdir = Testing.fullSynth(stack);
  try {
    const dir = join(outdir, "stacks", config.name);
    const files: Record<string, Buffer> = {};
    const walk = (d: string): void => {
      for (const entry of readdirSync(d)) {
        const path = join(d, entry);
        if (statSync(path).isDirectory()) walk(path);
        else files[relative(dir, path)] = readFileSync(path);
      }
    };
    walk(dir);
    return { json: JSON.parse(files["cdk.tf.json"].toString("utf8")), files };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Secrets in a synth output: the stack JSON and every text asset (zips hold only the bundled, scanned-for sources). */
function secretsIn(output: { json: TerraformJson; files: Record<string, Buffer> }) {
  const text = Object.entries(output.files).filter(([name]) => !name.endsWith(".zip") && name !== "cdk.tf.json");
  return [
    ...findSecrets(output.json),
    ...text.flatMap(([name, content]) => findSecretsInText(name, content.toString("utf8"))),
  ];
}

describe("no secrets in the synthesized output", () => {
  it.each(synthAll().map((e) => [e.config.name, e.config] as const))(
    "%s: the stack JSON and its text assets hold references to secrets, never values",
    (_name, config) => {
      const output = synthOutput(config);
      expect(Object.keys(output.files).length).toBeGreaterThan(1);
      expect(secretsIn(output)).toEqual([]);
      // Credentials are referenced, never held: the API secret by ARN, the RDS secret by name, the warehouse admin password managed by AWS.
      const json = output.json;
      for (const fn of resources(json, "aws_lambda_function"))
        expect(fn.body.environment.variables.API_SECRET_ARN).toMatch(/^\$\{aws_secretsmanager_secret\./);
      for (const c of resources(json, "aws_glue_connection"))
        expect(c.body.connection_properties.SECRET_ID).toMatch(/^\$\{aws_secretsmanager_secret\./);
      for (const ns of resources(json, "aws_redshiftserverless_namespace")) {
        expect(ns.body.manage_admin_password).toBe(true);
        expect(ns.body.admin_user_password).toBeUndefined();
      }
      expect(resources(json, "aws_secretsmanager_secret_version")).toEqual([]);
    },
  );

  it("finds an access key, a private key, a password in a URL or a secret value wherever a module would put them", () => {
    const dev = defined(
      synthAll().find((e) => e.config.name === "dev"),
      "the dev stack",
    ).config;
    const output = synthOutput(dev, (stack) => {
      const fn = stack.ingestion.apiFunctions.shipments.function;
      fn.addOverride("environment.variables.LEAKED_KEY", "AKIAIOSFODNN7EXAMPLE");
      fn.addOverride("environment.variables.DB_URL", "postgresql://app:hunter2@db.internal:5432/orders");
      fn.addOverride("environment.variables.SERVICE_TOKEN", "s3cr3t-t0k3n-value");
      new SecretsmanagerSecretVersion(stack, "leak", {
        secretId: stack.ingestion.apiCredentials.id,
        secretString: '{"token":"abc"}',
      });
      stack.addOverride("output.tls_key", {
        value: "-----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----",
      });
    });
    const found = secretsIn(output).map((f) => `${f.what} @ ${f.where.split(".").slice(-1)[0]}`);
    expect(found).toEqual(
      expect.arrayContaining([
        "AWS access key id @ LEAKED_KEY",
        "credentials in a URL @ DB_URL",
        'a literal value for "SERVICE_TOKEN" @ SERVICE_TOKEN',
        expect.stringMatching(/^a secret value in a secret version @ leak/),
        "private key @ value",
      ]),
    );
  });
});
