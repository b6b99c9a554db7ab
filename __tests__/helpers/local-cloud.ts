/**
 * The integration run's shared local cloud (started once by __tests__/integration/setup/global-setup.ts):
 * the emulator, PostgreSQL and `local` applied once. A test adds only what it needs to it, and a
 * change it makes (a deploy, a run) changes the running cloud in place, as a developer's would.
 *
 *   const cloud = sharedLocalCloud();
 *   cloud.emulator.endpoint; cloud.env; cloud.outputs().lake_raw_bucket_name.value;
 */
import { readFileSync } from "node:fs";
import { Emulator } from "../../scripts/emulator";
import type { EmulatedStack } from "../../scripts/lib/emulated";
import { terraform } from "../../scripts/lib/terraform";
import type { LocalCloudState } from "../../scripts/local/cloud";

/** The variable global-setup.ts sets to the shared cloud's state file. */
export const SHARED_CLOUD_VARIABLE = "DATAPLAT_TEST_LOCAL_CLOUD";
/** A test file that calls sharedLocalCloud() names this marker, so global-setup starts the cloud only when such a file runs. */
export const SHARED_CLOUD_MARKER = "sharedLocalCloud(";

export interface SharedLocalCloud extends LocalCloudState {
  readonly emulator: Emulator;
  readonly stack: EmulatedStack;
  /** `terraform output -json` of the shared state, parsed. */
  outputs(): Record<string, { value: unknown }>;
}

export function sharedLocalCloud(): SharedLocalCloud {
  const file = process.env[SHARED_CLOUD_VARIABLE];
  if (!file)
    throw new Error(
      `${SHARED_CLOUD_VARIABLE} is unset: run this file through jest's cloud project (npm run test:cloud), whose globalSetup starts the shared local cloud`,
    );
  const state = JSON.parse(readFileSync(file, "utf8")) as LocalCloudState;
  const stack: EmulatedStack = { environment: "local", dir: state.stackDir, env: state.env };
  return {
    ...state,
    emulator: Emulator.connect(state.emulator),
    stack,
    outputs: () => {
      const result = terraform(["output", "-json"], stack.dir, stack.env);
      if (!result.ok) throw new Error(`terraform output failed:\n${result.stderr}`);
      return JSON.parse(result.stdout);
    },
  };
}
