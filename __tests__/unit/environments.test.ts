import { ConfigError, ENVIRONMENTS, EnvironmentOverride, loadEnvironments, stateKey } from "../../environments";
import { dev } from "../../environments/dev";
import { local } from "../../environments/local";
import { prod } from "../../environments/prod";
import { staging } from "../../environments/staging";
import { BAD_CONFIGS } from "../fixtures/bad-configs";

/** The ConfigError message for a set of environment definitions, or a failure if they are valid. */
function errorOf(...definitions: EnvironmentOverride[]): string {
  try {
    loadEnvironments(definitions);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected the configuration to be rejected");
}

/** The single problem line of a one-problem ConfigError. */
function problemOf(...definitions: EnvironmentOverride[]): string {
  const message = errorOf(...definitions);
  const lines = message.split("\n").slice(1);
  expect(lines).toHaveLength(1);
  return lines[0].replace(/^ {2}- /, "");
}

describe("shipped environments", () => {
  const envs = loadEnvironments();
  const byName = Object.fromEntries(envs.map((e) => [e.name, e]));

  it("are dev, staging, prod and local, all valid", () => {
    expect(envs.map((e) => e.name)).toEqual(["dev", "staging", "prod", "local"]);
  });

  it("inherit base defaults they do not override", () => {
    expect(byName.dev.lake.lifecycle.raw).toEqual({
      infrequentAccessAfterDays: 30,
      archiveAfterDays: 90,
      expireAfterDays: 365,
    });
    expect(byName.dev.alarms.notify).toBe("record");
    expect(byName.staging.project).toBe("dataplat");
  });

  it("differ where environments are meant to: partitioning, alarms, guards, protection, state", () => {
    const summary = Object.fromEntries(
      envs.map((e) => [
        e.name,
        {
          partitions: e.partitioning.keys.map((k) => k.name).join("+"),
          notify: e.alarms.notify,
          cutoffGiB: e.athena.bytesScannedCutoffPerQuery ? e.athena.bytesScannedCutoffPerQuery / 1024 ** 3 : undefined,
          forceDestroy: e.protection.forceDestroy,
          preventDestroy: e.protection.preventDestroy,
          backend: e.state.backend,
          logDays: e.logs.retentionDays,
        },
      ]),
    );
    expect(summary).toEqual({
      dev: {
        partitions: "dt",
        notify: "record",
        cutoffGiB: 1,
        forceDestroy: true,
        preventDestroy: false,
        backend: "s3",
        logDays: 14,
      },
      staging: {
        partitions: "dt+region",
        notify: "record",
        cutoffGiB: 10,
        forceDestroy: false,
        preventDestroy: false,
        backend: "s3",
        logDays: 30,
      },
      prod: {
        partitions: "dt+region",
        notify: "page",
        cutoffGiB: 100,
        forceDestroy: false,
        preventDestroy: true,
        backend: "s3",
        logDays: 365,
      },
      local: {
        partitions: "dt+region",
        notify: "record",
        cutoffGiB: undefined,
        forceDestroy: true,
        preventDestroy: false,
        backend: "local",
        logDays: 1,
      },
    });
  });

  it("differ in catalog, Lake Formation, warehouse, BI and network as configured", () => {
    const summary = Object.fromEntries(
      envs.map((e) => [
        e.name,
        {
          crawlers: e.catalog.crawlerSchedule,
          lakeFormation: e.lakeFormation.enabled,
          redshift: e.redshift.enabled
            ? `${e.redshift.baseCapacityRpu}-${e.redshift.maxCapacityRpu} RPU`
            : `off: ${e.redshift.disabledReason}`,
          quicksight: e.quicksight.enabled,
          network:
            e.network.mode === "create"
              ? `${e.network.cidr} in ${e.network.availabilityZones.length} AZs`
              : `adopt ${e.network.vpcId}`,
        },
      ]),
    );
    expect(summary).toEqual({
      dev: {
        crawlers: "cron(15 2 * * ? *)",
        lakeFormation: false,
        redshift: "8-32 RPU",
        quicksight: false,
        network: "10.10.0.0/16 in 3 AZs",
      },
      staging: {
        crawlers: "cron(15 2 * * ? *)",
        lakeFormation: true,
        redshift: "8-64 RPU",
        quicksight: false,
        network: "adopt vpc-0a1b2c3d4e5f60718",
      },
      prod: {
        crawlers: "cron(15 * * * ? *)",
        lakeFormation: true,
        redshift: "32-256 RPU",
        quicksight: true,
        network: "10.30.0.0/16 in 3 AZs",
      },
      local: {
        crawlers: "cron(15 2 * * ? *)",
        lakeFormation: false,
        redshift:
          "off: the emulator (moto 5.2.1) has no Redshift Serverless API: terraform apply would hang waiting for the workgroup",
        quicksight: false,
        network: "10.99.0.0/16 in 2 AZs",
      },
    });
  });

  it("keep state apart: one key per environment", () => {
    const keys = envs.map((e) => stateKey(e));
    expect(new Set(keys).size).toBe(keys.length);
    expect(stateKey(byName.prod)).toBe("dataplat/prod/terraform.tfstate");
  });

  it("are listed in promotion order", () => {
    expect(ENVIRONMENTS.map((e) => e.name)).toEqual(["dev", "staging", "prod", "local"]);
  });
});

describe("a bad environment config fails with env, field and rule", () => {
  const cases = BAD_CONFIGS;

  it("the corpus has at least twelve cases, each a different problem", () => {
    expect(cases.length).toBeGreaterThanOrEqual(12);
    expect(new Set(cases.map(([title]) => title)).size).toBe(cases.length);
    expect(new Set(cases.map(([, , error]) => error)).size).toBe(cases.length);
  });

  it.each(cases)("%s", (_title, definition, expected) => {
    expect(problemOf(definition)).toBe(expected);
  });

  it("lists every problem of every environment in one message", () => {
    const message = errorOf(
      { ...dev, accountId: "abc", alarms: { lambdaThrottles: -5 } },
      { ...prod, protection: { forceDestroy: true } },
    );
    expect(message).toBe(
      [
        "Invalid environment configuration (4 problems):",
        '  - dev: accountId: must be a 12-digit AWS account id (got "abc")',
        "  - dev: alarms.lambdaThrottles: must be ≥ 0 (got -5)",
        "  - prod: protection.forceDestroy: must be false in prod: production data is never force-deleted",
        "  - prod: protection.preventDestroy: must be true in prod: data-bearing resources must survive a stray destroy",
      ].join("\n"),
    );
  });

  it("rejects two environments with the same name", () => {
    expect(problemOf(dev, { ...staging, name: "dev" })).toBe("dev: name: is used by another environment");
  });

  it("lets an opt-in feature (QuickSight) stay off without a reason", () => {
    expect(() =>
      loadEnvironments([{ ...local, quicksight: { enabled: false, disabledReason: undefined } }]),
    ).not.toThrow();
  });

  it("lets local omit the account id", () => {
    expect(() => loadEnvironments([{ ...local, accountId: undefined }])).not.toThrow();
  });
});
