/**
 * Starts the integration run's one local cloud (scripts/local/cloud.ts) on free ports, in a
 * directory of its own, when a selected test file uses it (it names sharedLocalCloud); its state
 * file's path goes to the tests in DATAPLAT_TEST_LOCAL_CLOUD. global-teardown.ts stops it. With
 * DATAPLAT_TEST_LOCAL_CLOUD already set, the tests use that cloud (a developer's `local:up`) instead.
 */
import type { Config } from "@jest/types";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../../scripts/local/postgres";
import { startLocalCloud, stateFileOf, type LocalCloud } from "../../../scripts/local/cloud";
import { SHARED_CLOUD_MARKER, SHARED_CLOUD_VARIABLE } from "../../helpers/local-cloud";

declare global {
  var __dataplatLocalCloud: LocalCloud | undefined;
}

export default async function globalSetup(
  globalConfig: Config.GlobalConfig,
  project: Config.ProjectConfig,
): Promise<void> {
  const dir = join(project.rootDir, "__tests__", "integration");
  const matches = globalConfig.testPathPatterns.toExecutor({ rootDir: project.rootDir });
  const users = readdirSync(dir)
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => join(dir, f))
    .filter((f) => readFileSync(f, "utf8").includes(SHARED_CLOUD_MARKER) && (!matches.isSet() || matches.isMatch(f)));
  // Already given (e.g. a running `npm run local:up`: DATAPLAT_TEST_LOCAL_CLOUD=.emulator/local-cloud.json): use it.
  if (users.length === 0 || process.env[SHARED_CLOUD_VARIABLE]) return;
  const started = Date.now();
  const stateDir = mkdtempSync(join(tmpdir(), "local-cloud-"));
  // As root, PostgreSQL runs as its own OS user, which must reach its data directory inside.
  chmodSync(stateDir, 0o755);
  const cloud = await startLocalCloud({
    emulatorPort: await freePort(),
    rdsPort: await freePort(),
    stateDir,
    synthDir: join(stateDir, "cdktf.out"),
    // Every test on it runs its components under their deployed roles, denied what those do not allow.
    iam: "enforce",
  });
  globalThis.__dataplatLocalCloud = cloud;
  process.env[SHARED_CLOUD_VARIABLE] = stateFileOf(stateDir);
  writeFileSync(join(stateDir, "setup-seconds"), String(Math.round((Date.now() - started) / 1000)));
  process.stderr.write(
    `\nshared local cloud: ${cloud.resources} resources at ${cloud.emulator.endpoint} in ${Math.round((Date.now() - started) / 1000)} s (for ${users.length} file(s))\n`,
  );
}
