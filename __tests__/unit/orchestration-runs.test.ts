/**
 * What a pipeline run reads and writes, read from every environment's synthesized state machines:
 * the manifest written first (the execution's input, verbatim), the paths each job gets (all per
 * execution, in the quarantine zone's run layout), the grants on them, and the synth-time bound
 * on a batched trigger's execution input.
 */
import { loadEnvironments, type EnvironmentConfig } from "../../environments";
import { DATASETS, PartitionedDataset } from "../../datasets";
import { eventBytes, longestRawKey } from "../../modules/ingestion/raw-keys";
import {
  batchInputBytes,
  EXECUTION_INPUT_MAX_BYTES,
  largestBatchFor,
  PIPE_RECORD_TEMPLATE,
  STEPS,
  TRANSIENT_ERRORS,
  type PassState,
  type StateMachineDefinition,
  type TaskState,
} from "../../modules/orchestration";
import { Naming } from "../../modules/shared/naming";
import { MANIFEST_ROOT, runLayout } from "../../modules/shared/run-layout";
import { synthWithIngestion } from "../helpers/pipelines";
import { asArray, byPath, parsePolicy, refOf, resources, type SynthesizedResource } from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

const environments = loadEnvironments().map((config) => ({ config, ...synthWithIngestion(config) }));
const definitionOf = (sm: SynthesizedResource): StateMachineDefinition => JSON.parse(sm.body.definition);

/**
 * Evaluates the `States.Format('…', $$.Execution.Name, …)` expressions the definition uses, as
 * Step Functions does: each `{}` takes the next argument, `\` escapes the next character.
 */
function evalFormat(expression: string, executionName: string): string {
  const m = /^States\.Format\('((?:[^'\\]|\\.)*)'((?:, \$\$\.Execution\.Name)+)\)$/.exec(expression);
  if (!m) throw new Error(`not a States.Format over the execution name: ${expression}`);
  let out = "";
  const template = m[1];
  for (let i = 0; i < template.length; i++) {
    if (template[i] === "\\") out += template[++i];
    else if (template.startsWith("{}", i)) {
      out += executionName;
      i++;
    } else out += template[i];
  }
  return out;
}

describe.each(environments.map((e) => [e.config.name, e] as const))(
  "%s: what a run reads and writes",
  (_env, { config, json }) => {
    const quarantine = byPath(json, "aws_s3_bucket", "lake/quarantine/bucket");
    const bucket = quarantine.body.bucket as string;
    const machines = resources(json, "aws_sfn_state_machine");
    const datasetOf = (m: SynthesizedResource) =>
      m.body.name.replace(`dataplat-${config.name}-`, "").replace("-pipeline", "");

    it("every pipelined dataset's run keeps its records in the quarantine bucket, named by the execution", () => {
      expect(machines.length).toBeGreaterThan(0);
      for (const m of machines) {
        const dataset = datasetOf(m);
        const run = (defined((definitionOf(m).States.Start as PassState).Parameters, "the Start state's parameters")
          .run ?? {}) as Record<string, string>;
        const paths = Object.fromEntries(Object.entries(run).map(([k, v]) => [k, evalFormat(v, "exec-7f3a")]));
        expect(paths).toEqual({
          "manifestKey.$": `pipeline-manifests/${dataset}/exec-7f3a.json`,
          "manifest.$": `s3://${bucket}/pipeline-manifests/${dataset}/exec-7f3a.json`,
          "rawToProcessedSummary.$": `s3://${bucket}/${dataset}/raw_to_processed/runs/exec-7f3a.json`,
          "processedToConsumerSummary.$": `s3://${bucket}/${dataset}/processed_to_consumer/runs/exec-7f3a.json`,
        });
        // Two executions never share a path.
        const other = Object.values(run).map((v) => evalFormat(v, "exec-9b21"));
        expect(other.filter((p) => Object.values(paths).includes(p))).toEqual([]);
        expect(paths["manifestKey.$"]).toBe(runLayout.manifestKey(`${dataset}/`, "exec-7f3a"));
      }
    });

    it("WriteManifest stores the execution's input verbatim, before any job runs, retrying S3's transient errors and alerting on the rest", () => {
      for (const m of machines) {
        const d = definitionOf(m);
        const write = d.States[STEPS.writeManifest] as TaskState;
        expect(write).toMatchObject({
          Type: "Task",
          Resource: "arn:aws:states:::aws-sdk:s3:putObject",
          Parameters: {
            Bucket: bucket,
            "Key.$": "$.run.manifestKey",
            "Body.$": "States.JsonToString($$.Execution.Input)",
            ContentType: "application/json",
          },
          ResultPath: null,
          Next: STEPS.rawToProcessed,
        });
        expect(write.Retry.map((r) => r.ErrorEquals)).toEqual([[...TRANSIENT_ERRORS.s3]]);
        expect(write.Catch).toEqual([
          { ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: `${STEPS.writeManifest}Failed` },
        ]);
        expect(d.States[`${STEPS.writeManifest}Failed`]).toMatchObject({
          Parameters: { step: STEPS.writeManifest },
          Next: STEPS.notifyFailure,
        });
        expect(d.States.Start).toMatchObject({ Next: STEPS.writeManifest });
      }
    });

    it("raw → processed gets the manifest, the execution as run id and its own summary path; processed → consumer rebuilds what that summary lists", () => {
      for (const m of machines) {
        const d = definitionOf(m);
        expect(
          defined((d.States[STEPS.rawToProcessed] as TaskState).Parameters, "the raw-to-processed task's parameters")
            .Arguments,
        ).toEqual({
          "--manifest_path.$": "$.run.manifest",
          "--run_id.$": "$$.Execution.Name",
          "--summary_path.$": "$.run.rawToProcessedSummary",
        });
        expect(
          defined(
            (d.States[STEPS.processedToConsumer] as TaskState).Parameters,
            "the processed-to-consumer task's parameters",
          ).Arguments,
        ).toEqual({
          "--partitions_path.$": "$.run.rawToProcessedSummary",
          "--run_id.$": "$$.Execution.Name",
          "--summary_path.$": "$.run.processedToConsumerSummary",
        });
      }
    });

    it("the success event and the failure alert say where the run's manifest and summaries are", () => {
      for (const m of machines) {
        const d = definitionOf(m);
        const detail = (
          defined((d.States[STEPS.publishSucceeded] as TaskState).Parameters, "the publish-succeeded task's parameters")
            .Entries as { Detail: Record<string, string> }[]
        )[0].Detail;
        expect(detail).toMatchObject({
          "manifest.$": "$.run.manifest",
          "rawToProcessedSummary.$": "$.run.rawToProcessedSummary",
          "processedToConsumerSummary.$": "$.run.processedToConsumerSummary",
        });
        const message = defined(
          (d.States[STEPS.notifyFailure] as TaskState).Parameters,
          "the notify-failure task's parameters",
        ).Message as Record<string, string>;
        expect(message["manifest.$"]).toBe("$.run.manifest");
      }
    });

    it("the state machine role writes only its own dataset's manifests (no read, no delete, nothing else of the lake), with the quarantine key only", () => {
      const quarantineArn = `${refOf(quarantine)}.arn}`;
      const lakeArns = ["raw", "processed", "consumer", "quarantine"].map(
        (z) => `${refOf(byPath(json, "aws_s3_bucket", `lake/${z}/bucket`))}.arn}`,
      );
      for (const m of machines) {
        const dataset = datasetOf(m);
        const role = defined(
          resources(json, "aws_iam_role").find((r) => m.body.role_arn === `${refOf(r)}.arn}`),
          "the state machine's role",
        );
        const policy = defined(
          resources(json, "aws_iam_role_policy").find((p) => p.body.role === `${refOf(role)}.id}`),
          "the state machine role's inline policy",
        );
        const statements = parsePolicy(policy.body.policy).Statement;
        const onLake = statements.filter((s) =>
          asArray(s.Resource).some((r: string) => lakeArns.some((a) => r.startsWith(a))),
        );
        expect(onLake.map((s) => [asArray(s.Action).sort(), asArray(s.Resource)])).toEqual([
          [
            ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:PutObject"],
            [`${quarantineArn}/${MANIFEST_ROOT}${dataset}/*`],
          ],
        ]);
        // Of the lake's keys, only quarantine's (the messaging key is for the alerts topic).
        const lakeKeys = ["raw", "processed", "consumer", "quarantine"].map(
          (z) => `${refOf(byPath(json, "aws_kms_key", `lake/${z}-key`))}.arn}`,
        );
        const kms = statements.filter((s) => asArray(s.Action).some((a: string) => a.startsWith("kms:")));
        expect(kms.flatMap((s) => asArray(s.Resource)).filter((r: string) => lakeKeys.includes(r))).toEqual([
          lakeKeys[3],
        ]);
      }
    });
  },
);

describe("the batched trigger's execution input bound", () => {
  const base = defined(
    loadEnvironments().find((e) => e.name === "dev"),
    "the dev environment",
  );

  it("counts what the pipe renders: a JSON array of PIPE_RECORD_TEMPLATE records, at least as large as the real thing", () => {
    for (const [count, keyLength] of [
      [1, 10],
      [3, 150],
      [1000, 200],
    ]) {
      const key = "k".repeat(keyLength);
      const rendered = Array.from({ length: count }, () =>
        PIPE_RECORD_TEMPLATE.replace("<$.body.detail.object.key>", key),
      );
      const compact = `[${rendered.join(",")}]`;
      const spaced = `[${rendered.join(", ")}]`;
      JSON.parse(spaced);
      expect(batchInputBytes(count, keyLength)).toBeGreaterThanOrEqual(Buffer.byteLength(compact));
      expect(batchInputBytes(count, keyLength)).toBe(Buffer.byteLength(spaced));
    }
    const most = largestBatchFor(250);
    expect(batchInputBytes(most, 250)).toBeLessThanOrEqual(EXECUTION_INPUT_MAX_BYTES);
    expect(batchInputBytes(most + 1, 250)).toBeGreaterThan(EXECUTION_INPUT_MAX_BYTES);
  });

  it("counts a key as an event may carry it: URL-encoded", () => {
    expect(eventBytes("orders/dt=2024-05-01/part-0.json.gz")).toBe(
      "orders/dt=2024-05-01/part-0.json.gz".length + 2 * 3,
    );
    expect(eventBytes("é")).toBe(6);
  });

  it.each(loadEnvironments().map((c) => [c.name, c] as const))(
    "%s: every shipped dataset's longest raw key, built like its writer builds it, fits a full batch",
    (_env, config) => {
      const naming = new Naming({
        project: config.project,
        environment: config.name,
        accountId: config.accountId,
        region: config.region,
      });
      for (const contract of DATASETS) {
        const dataset = new PartitionedDataset(contract, config.partitioning, config.name);
        const key = longestRawKey(dataset, naming);
        expect(key.example.startsWith(dataset.prefix)).toBe(true);
        for (const name of dataset.layout.names) expect(key.example).toContain(`/${name}=`);
        expect(key.bytes).toBe(eventBytes(key.example));
        expect(batchInputBytes(1000, key.bytes)).toBeLessThanOrEqual(EXECUTION_INPUT_MAX_BYTES);
      }
    },
  );

  /** dev with long partition key names: every raw key grows by them. */
  const longKeys = (batchSize: number): EnvironmentConfig => ({
    ...base,
    partitioning: {
      keys: [
        { name: `event_date_${"d".repeat(50)}`, type: "date", format: "yyyy-MM-dd", rangeStart: "2024-01-01" },
        { name: `event_hour_${"h".repeat(50)}`, type: "hour" },
      ],
    },
    orchestration: { ...base.orchestration, batching: { ...base.orchestration.batching, batchSize } },
  });

  it("stops synth naming the environment, the field and the rule when a full batch of the longest keys would not fit", () => {
    const config = longKeys(1000);
    const naming = new Naming({
      project: config.project,
      environment: config.name,
      accountId: config.accountId,
      region: config.region,
    });
    const clickstream = new PartitionedDataset(
      defined(
        DATASETS.find((d) => d.source.kind === "kinesis"),
        "a streaming dataset",
      ),
      config.partitioning,
      config.name,
    );
    const key = longestRawKey(clickstream, naming);
    expect(() => synthWithIngestion(config)).toThrow(
      `dev: orchestration.batching.batchSize: must fit one execution's input (Step Functions allows 262144 bytes): dataset ${clickstream.name}'s raw keys (firehose) can take ${key.bytes} bytes, so 1000 of them need ${batchInputBytes(1000, key.bytes)}; at most ${largestBatchFor(key.bytes)} fit (got 1000)`,
    );
  });

  it("accepts the same layout with a batch that fits, and an environment without batching whatever its layout", () => {
    const fits = Math.min(
      ...DATASETS.map((c) => {
        const config = longKeys(1);
        const naming = new Naming({
          project: config.project,
          environment: config.name,
          accountId: config.accountId,
          region: config.region,
        });
        return largestBatchFor(
          longestRawKey(new PartitionedDataset(c, config.partitioning, config.name), naming).bytes,
        );
      }),
    );
    expect(fits).toBeLessThan(1000);
    expect(() => synthWithIngestion(longKeys(fits))).not.toThrow();
    const unbatched = longKeys(1000);
    expect(() =>
      synthWithIngestion({
        ...unbatched,
        orchestration: {
          ...unbatched.orchestration,
          batching: { ...unbatched.orchestration.batching, enabled: false, disabledReason: "test" },
        },
      }),
    ).not.toThrow();
  });
});
