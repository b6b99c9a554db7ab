/**
 * `terraform validate` with zero diagnostics for every environment as it will look once the
 * ingestion module is wired in: pipelines for every dataset (Pipes where the environment batches,
 * direct rule targets where it does not), and the alarms, log groups and dashboard widgets that
 * observability adds for Lambda functions, Glue jobs, Kinesis and Firehose streams. (The plain
 * stacks are validated by terraform-validate.test.ts.)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEnvironments } from "../../environments";
import { validateStack } from "../../scripts/validate";
import { synthWithIngestion } from "../helpers/pipelines";
import { resources } from "../helpers/synth";

const outdir = mkdtempSync(join(tmpdir(), "validate-pipelines-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

it.each(loadEnvironments().map((c) => [c.name, c] as const))(
  "%s with pipelines and ingestion resources: terraform validate, no diagnostics",
  (name, config) => {
    const { json } = synthWithIngestion(config);
    expect(resources(json, "aws_sfn_state_machine")).toHaveLength(4);
    expect(resources(json, "aws_pipes_pipe")).toHaveLength(config.orchestration.batching.enabled ? 4 : 0);
    const dir = join(outdir, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "cdk.tf.json"), JSON.stringify(json, null, 2));
    expect(validateStack(name, dir)).toEqual({ stack: name, valid: true, diagnostics: [] });
  },
);
