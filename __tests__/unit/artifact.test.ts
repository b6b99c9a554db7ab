/**
 * The promotion artifact: assets byte-identical across environments (checked generically over the
 * stacks' asset references), and a hash manifest whose verification fails on any change.
 */
import { AssetType, App, TerraformAsset, TerraformStack } from "cdktf";
import { S3Object } from "@cdktf/provider-aws/lib/s3-object";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assetReferences, compareAssets } from "../../scripts/lib/assets";
import { buildManifest, MANIFEST_FILE, verifyManifest, writeManifest } from "../../scripts/lib/manifest";
import { readStacks } from "../../scripts/lib/stacks";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const temp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};

/** Synthesizes dev and prod stacks that each upload a script asset; `content(env)` is the script's text. */
function synthFixture(content: (env: string) => string): string {
  const src = temp("asset-src-");
  const outdir = temp("asset-out-");
  const app = new App({ outdir });
  for (const env of ["dev", "prod"]) {
    mkdirSync(join(src, env));
    writeFileSync(join(src, env, "job.py"), content(env));
    const stack = new TerraformStack(app, env);
    new AwsProvider(stack, "aws", { region: "eu-west-1" });
    const asset = new TerraformAsset(stack, "script", { path: join(src, env, "job.py"), type: AssetType.FILE });
    new S3Object(stack, "script-object", {
      bucket: "b",
      key: "job.py",
      source: asset.path,
      sourceHash: asset.assetHash,
    });
  }
  app.synth();
  return outdir;
}

describe("assets across environments", () => {
  it("finds every asset reference with the sha256 of the file it points at", () => {
    const out = synthFixture(() => "print('same')\n");
    const [dev] = readStacks(out);
    const refs = assetReferences(dev);
    expect(refs).toHaveLength(1);
    expect(refs[0].reference).toMatch(/^aws_s3_object\.script-object.*\.source$/);
    expect(refs[0].path).toMatch(/^assets\/script\/[0-9A-F]+\/job\.py$/);
    expect(refs[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(compareAssets(readStacks(out)).problems).toEqual([]);
  });

  it("reports an asset that differs between environments", () => {
    const out = synthFixture((env) => `print('${env}')\n`);
    expect(compareAssets(readStacks(out)).problems).toEqual([
      expect.stringMatching(
        /^aws_s3_object\.script-object.*\.source: the asset path differs between environments \(dev: assets\/script\/.*; prod: assets\/script\//,
      ),
      expect.stringMatching(
        /^aws_s3_object\.script-object.*\.source: the asset bytes differ between environments \(dev: [0-9a-f]{12}; prod: [0-9a-f]{12}\)$/,
      ),
    ]);
    expect(() => buildManifest(out)).toThrow(
      /the bundles are not identical across environments; one artifact cannot be promoted/,
    );
  });

  it("reports equal paths with different bytes (e.g. a zip with timestamps) and a missing file", () => {
    const out = synthFixture(() => "print('same')\n");
    const [dev, prod] = readStacks(out);
    appendFileSync(join(prod.dir, assetReferences(prod)[0].path), "# changed after synth\n");
    expect(compareAssets([dev, prod]).problems).toEqual([
      expect.stringContaining("the asset bytes differ between environments"),
    ]);
    unlinkSync(join(dev.dir, assetReferences(dev)[0].path));
    expect(compareAssets([dev, prod]).problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^dev: aws_s3_object\..* references assets\/script\/.*job\.py, which is not in the synth output$/,
        ),
      ]),
    );
  });
});

describe("artifact manifest", () => {
  it("lists every file with its sha256, the stacks' files and the shared bundles; verification passes untouched", () => {
    const out = synthFixture(() => "print('same')\n");
    const manifest = writeManifest(out);
    expect(Object.keys(manifest.files)).toEqual([
      "manifest.json",
      expect.stringMatching(/^stacks\/dev\/assets\/script\/[0-9A-F]+\/job\.py$/),
      "stacks/dev/cdk.tf.json",
      expect.stringMatching(/^stacks\/prod\/assets\/script\/[0-9A-F]+\/job\.py$/),
      "stacks/prod/cdk.tf.json",
    ]);
    expect(manifest.bundles).toEqual([
      expect.objectContaining({ environments: ["dev", "prod"], sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }),
    ]);
    expect(verifyManifest(out, manifest.digest)).toEqual({ ok: true, digest: manifest.digest, problems: [] });
  });

  it("its digest is what `sha256sum` over the sorted file list gives, so it can be checked without this code", () => {
    const out = synthFixture(() => "print('same')\n");
    const { digest, files } = writeManifest(out);
    const listing = execFileSync("sha256sum", Object.keys(files), { cwd: out });
    expect(execFileSync("sha256sum", { input: listing }).toString().split(" ")[0]).toBe(digest);
  });

  it("ignores Terraform working files left by init and plan", () => {
    const out = synthFixture(() => "print('same')\n");
    const { digest } = writeManifest(out);
    mkdirSync(join(out, "stacks", "dev", ".terraform", "providers"), { recursive: true });
    writeFileSync(join(out, "stacks", "dev", ".terraform", "providers", "x"), "binary");
    writeFileSync(join(out, "stacks", "dev", ".terraform.lock.hcl"), "lock");
    writeFileSync(join(out, "stacks", "dev", "dev.tfplan"), "plan");
    expect(verifyManifest(out, digest).problems).toEqual([]);
  });

  it("fails on a modified, missing or extra file, an edited manifest, or another digest", () => {
    const out = synthFixture(() => "print('same')\n");
    const { digest } = writeManifest(out);
    const stackJson = join(out, "stacks", "prod", "cdk.tf.json");
    writeFileSync(stackJson, readFileSync(stackJson, "utf8").replace('"eu-west-1"', '"us-east-1"'));
    unlinkSync(join(out, "stacks", "dev", "cdk.tf.json"));
    writeFileSync(join(out, "stacks", "prod", "extra.tf.json"), "{}");
    const result = verifyManifest(out, "0".repeat(64));
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      `digest ${digest} is not the digest the build published (${"0".repeat(64)})`,
      "missing: stacks/dev/cdk.tf.json",
      expect.stringMatching(/^modified: stacks\/prod\/cdk\.tf\.json \(sha256 [0-9a-f]{64}, manifest [0-9a-f]{64}\)$/),
      "unexpected: stacks/prod/extra.tf.json is not in the manifest",
    ]);

    const manifestPath = join(out, MANIFEST_FILE);
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    manifest.files["stacks/prod/cdk.tf.json"] = "f".repeat(64);
    writeFileSync(manifestPath, JSON.stringify(manifest));
    expect(verifyManifest(out).problems[0]).toMatch(
      /^the manifest was edited: its file list hashes to [0-9a-f]{64}, not its digest/,
    );
  });

  it("a directory without a manifest is not an artifact", () => {
    const out = synthFixture(() => "x\n");
    expect(verifyManifest(out)).toEqual({
      ok: false,
      problems: [`${join(out, MANIFEST_FILE)} is missing: this is not a built artifact`],
    });
  });
});
