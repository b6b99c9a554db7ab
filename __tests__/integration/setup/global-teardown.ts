/** Stops the shared local cloud global-setup.ts started, and removes its directory. */
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { SHARED_CLOUD_VARIABLE } from "../../helpers/local-cloud";

export default async function globalTeardown(): Promise<void> {
  const cloud = globalThis.__dataplatLocalCloud;
  if (!cloud) return;
  globalThis.__dataplatLocalCloud = undefined;
  await cloud.stop();
  const stateFile = process.env[SHARED_CLOUD_VARIABLE];
  if (stateFile) rmSync(dirname(stateFile), { recursive: true, force: true });
}
