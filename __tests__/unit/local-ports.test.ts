/**
 * `local` gets the loopback ports of its PostgreSQL source and sample API from the process
 * environment (the local cloud's scripts choose them free), with documented defaults; a bad value
 * stops synth naming environment, field and rule; no other environment reads the variables.
 */
import { ConfigError } from "../../environments";
import {
  LOCAL_API_PORT_VARIABLE,
  LOCAL_RDS_DATABASE,
  LOCAL_RDS_PORT_VARIABLE,
  localPort,
} from "../../environments/local";
import { defined } from "../../modules/shared/defined";

/** The environments as loaded with `env` as the process environment (a fresh module registry). */
function loadWith(env: Record<string, string>) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    let configs: unknown;
    jest.isolateModules(() => {
      configs = require("../../environments").loadEnvironments();
    });
    return configs as { name: string; ingestion: { rds: { jdbcUrl: string }; api: { baseUrl: string } } }[];
  } finally {
    process.env = saved;
  }
}

describe("local ports", () => {
  it("default to PostgreSQL's and the sample API's usual ports when unset", () => {
    const local = defined(
      loadWith({ [LOCAL_RDS_PORT_VARIABLE]: "", [LOCAL_API_PORT_VARIABLE]: "" }).find((c) => c.name === "local"),
      "the local environment",
    );
    expect(local.ingestion.rds.jdbcUrl).toBe(`jdbc:postgresql://127.0.0.1:5432/${LOCAL_RDS_DATABASE}`);
    expect(local.ingestion.api.baseUrl).toBe("http://127.0.0.1:8080");
  });

  it("take the variables' values, and leave every other environment exactly as it was", () => {
    const before = loadWith({ [LOCAL_RDS_PORT_VARIABLE]: "", [LOCAL_API_PORT_VARIABLE]: "" });
    const after = loadWith({ [LOCAL_RDS_PORT_VARIABLE]: "54329", [LOCAL_API_PORT_VARIABLE]: "18080" });
    const local = defined(
      after.find((c) => c.name === "local"),
      "the local environment",
    );
    expect(local.ingestion.rds.jdbcUrl).toBe(`jdbc:postgresql://127.0.0.1:54329/${LOCAL_RDS_DATABASE}`);
    expect(local.ingestion.api.baseUrl).toBe("http://127.0.0.1:18080");
    expect(after.filter((c) => c.name !== "local")).toEqual(before.filter((c) => c.name !== "local"));
  });

  it.each(["abc", "0", "70000", "5432.5", "-1"])(
    "%s is refused naming the environment, the field and the rule",
    (value) => {
      let error: unknown;
      try {
        localPort(LOCAL_RDS_PORT_VARIABLE, 5432, "ingestion.rds.jdbcUrl", { [LOCAL_RDS_PORT_VARIABLE]: value });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toBe(
        `Invalid environment configuration (1 problem):\n  - local: ingestion.rds.jdbcUrl: ${LOCAL_RDS_PORT_VARIABLE} must be a TCP port from 1 to 65535 (got ${JSON.stringify(value)})`,
      );
    },
  );
});
