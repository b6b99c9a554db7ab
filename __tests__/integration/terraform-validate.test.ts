import { App } from "cdktf";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEnvironments } from "../../environments";
import { requiredTags } from "../../modules/shared/tagging";
import { awsProviderSchema, stackDirs } from "../../scripts/lib/terraform";
import { validateAll, validateStack } from "../../scripts/validate";
import { StateBootstrapStack } from "../../modules/bootstrap";
import { resources, TerraformJson } from "../helpers/synth";

const outdir = mkdtempSync(join(tmpdir(), "validate-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

it("terraform init + validate succeeds for every environment, with no warnings", () => {
  const results = validateAll(outdir);
  expect(results.map((r) => r.stack)).toEqual(["dev", "local", "prod", "staging"]);
  // Warnings count too: a deprecated argument today is an error in the next provider.
  expect(results.map((r) => ({ stack: r.stack, valid: r.valid, diagnostics: r.diagnostics }))).toEqual(
    results.map((r) => ({ stack: r.stack, valid: true, diagnostics: [] })),
  );
});

it("every resource whose provider schema has `tags` carries the required tags, in every environment", () => {
  const dirs = stackDirs(outdir);
  const resourceSchemas = awsProviderSchema().resource_schemas;
  const taggable = new Set(
    Object.entries(resourceSchemas)
      .filter(([, s]) => s.block.attributes?.tags)
      .map(([type]) => type),
  );
  expect(taggable.has("aws_s3_bucket")).toBe(true);

  const missing: string[] = [];
  let checked = 0;
  for (const env of loadEnvironments()) {
    const json: TerraformJson = JSON.parse(readFileSync(join(dirs[env.name], "cdk.tf.json"), "utf8"));
    const required = requiredTags(env);
    for (const r of resources(json).filter((x) => taggable.has(x.type))) {
      checked++;
      const tags = r.body.tags ?? {};
      for (const [key, value] of Object.entries(required))
        if (tags[key] !== value) missing.push(`${env.name} ${r.type}.${r.name}: ${key}`);
    }
  }
  expect(checked).toBeGreaterThan(0);
  expect(missing).toEqual([]);
});

it("the state-bucket bootstrap stacks validate too", () => {
  const bootstrapOut = join(outdir, "bootstrap");
  const app = new App({ outdir: bootstrapOut });
  for (const env of loadEnvironments().filter((e) => e.state.backend === "s3")) new StateBootstrapStack(app, env);
  app.synth();
  const results = Object.entries(stackDirs(bootstrapOut)).map(([name, dir]) => validateStack(name, dir));
  expect(results).toEqual([
    { stack: "dev-state", valid: true, diagnostics: [] },
    { stack: "prod-state", valid: true, diagnostics: [] },
    { stack: "staging-state", valid: true, diagnostics: [] },
  ]);
});
