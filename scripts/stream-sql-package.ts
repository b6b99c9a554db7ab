/**
 * Builds every stream-SQL application package of the synthesized stacks and puts each where its
 * stack's S3 object reads it (<stack dir>/stream-sql-packages/<content hash>/<dataset>.zip), so
 * `terraform apply` uploads it. Run after synth, before apply:
 *
 *   npx tsx scripts/stream-sql-package.ts [cdktf.out]
 *
 * The Kinesis connector jar is downloaded from the Maven repository named in stream-sql/connector.json
 * (or MAVEN_REPOSITORY, a mirror) and refused unless its sha256 equals the pin. Fails loudly, naming
 * the URL and the reason, where it cannot fetch the jar or the pin has no sha256.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DATASETS, PartitionedDataset } from "../datasets";
import { loadEnvironment } from "../environments";
import { ROOT } from "../modules/shared/bundle";
import { deterministicZip } from "../modules/shared/zip";
import { APP_ENTRY, CONNECTOR_PIN, connectorPin, connectorUrl, streamPackage } from "../modules/streaming/package";

async function connectorJar(): Promise<Buffer> {
  const pin = connectorPin();
  if (!pin.sha256) {
    throw new Error(
      `${CONNECTOR_PIN} has no sha256: download ${connectorUrl(pin)} on a machine that reaches the repository, check it against the .sha512 published beside it, and record its sha256 in the pin`,
    );
  }
  const cache = join(ROOT, ".build", "connectors", `${pin.sha256}.jar`);
  if (existsSync(cache)) return verify(readFileSync(cache), pin.sha256, cache);
  const url = connectorUrl(pin, process.env.MAVEN_REPOSITORY ?? pin.repository);
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(
      `cannot fetch the Kinesis connector from ${url}: ${(error as Error).message} (set MAVEN_REPOSITORY to a reachable mirror)`,
    );
  }
  if (!response.ok) throw new Error(`cannot fetch the Kinesis connector from ${url}: HTTP ${response.status}`);
  const jar = verify(Buffer.from(await response.arrayBuffer()), pin.sha256, url);
  mkdirSync(join(ROOT, ".build", "connectors"), { recursive: true });
  writeFileSync(cache, jar);
  return jar;
}

function verify(jar: Buffer, sha256: string, from: string): Buffer {
  const got = createHash("sha256").update(jar).digest("hex");
  if (got !== sha256)
    throw new Error(`the Kinesis connector from ${from} has sha256 ${got}, not the pinned ${sha256}: refusing it`);
  return jar;
}

async function main(): Promise<void> {
  const outdir = process.argv[2] ?? join(ROOT, "cdktf.out");
  const stacks = join(outdir, "stacks");
  if (!existsSync(stacks)) throw new Error(`${stacks} does not exist: synthesize first (npm run synth)`);
  let jar: Buffer | undefined;
  for (const stack of readdirSync(stacks)) {
    const json = JSON.parse(readFileSync(join(stacks, stack, "cdk.tf.json"), "utf8"));
    if (!json.resource?.aws_kinesisanalyticsv2_application) continue;
    const env = loadEnvironment(stack);
    for (const contract of DATASETS) {
      const pkg = streamPackage(new PartitionedDataset(contract, env.partitioning, env.name));
      if (!pkg) continue;
      jar ??= await connectorJar();
      const zip = deterministicZip([
        { name: "main.py", data: readFileSync(join(ROOT, APP_ENTRY)) },
        { name: "job.json", data: Buffer.from(pkg.jobJson) },
        { name: `lib/${pkg.jarName}`, data: jar },
      ]);
      const path = join(stacks, stack, pkg.relativePath);
      mkdirSync(join(path, ".."), { recursive: true });
      writeFileSync(path, zip);
      console.log(`${stack}: ${pkg.relativePath} (${zip.length} bytes)`);
    }
  }
}

main().catch((error: Error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
