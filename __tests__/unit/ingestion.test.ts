/**
 * The ingestion module as each environment synthesizes it: the engine each dataset's declaration
 * gives it, the environment's settings on every function, job, stream and application, and the
 * agreements with the lake (zone buckets and keys), the catalog (security configuration, tables)
 * and the partition spec.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DATASETS, PartitionedDataset } from "../../datasets";
import { ConfigError, loadEnvironments, type EnvironmentConfig } from "../../environments";
import { local } from "../../environments/local";
import { prod } from "../../environments/prod";
import { gluePackage } from "../../modules/ingestion";
import { PartitionLayout } from "../../datasets";
import { ROOT } from "../../modules/shared/bundle";
import {
  byPath,
  refOf,
  resources,
  synthAll,
  synthEnvironment,
  type SynthesizedResource,
  type TerraformJson,
} from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

const ref = (r: SynthesizedResource, attr: string) => `${refOf(r)}.${attr}}`;
const zoneBucket = (json: TerraformJson, zone: string) => byPath(json, "aws_s3_bucket", `lake/${zone}/bucket`);
const zoneKey = (json: TerraformJson, zone: string) => byPath(json, "aws_kms_key", `lake/${zone}-key`);
const ingestionKey = (json: TerraformJson) => byPath(json, "aws_kms_key", "ingestion/key");
const sha256 = (file: string) =>
  createHash("sha256")
    .update(readFileSync(join(ROOT, file)))
    .digest("hex");

describe.each(synthAll().map((e) => [e.config.name, e] as const))("%s", (_env, { config, json }) => {
  const datasets = DATASETS.map((c) => new PartitionedDataset(c, config.partitioning, config.name));
  const prefix = `dataplat-${config.name}`;

  describe("the API path (lambda)", () => {
    const fn = byPath(json, "aws_lambda_function", "ingestion/api-shipments/function").body;

    it("one function per dataset the rules give to Lambda, with the environment's timeout (< 15 min), memory and reserved concurrency", () => {
      expect(resources(json, "aws_lambda_function").map((f) => f.body.function_name)).toEqual([
        `${prefix}-ingest-shipments`,
      ]);
      expect(fn).toMatchObject({
        runtime: "nodejs22.x",
        architectures: ["arm64"],
        handler: "index.handler",
        timeout: config.ingestion.api.timeoutSeconds,
        memory_size: config.ingestion.api.memoryMb,
        reserved_concurrent_executions: config.ingestion.api.reservedConcurrency,
        tracing_config: { mode: "Active" },
      });
      expect(fn.timeout).toBeLessThan(900);
    });

    it("is configured through environment variables naming the zone buckets and keys, the queue and the secret, encrypted with the ingestion key", () => {
      const shipments = defined(
        datasets.find((d) => d.name === "shipments"),
        "the shipments dataset",
      );
      expect(fn.kms_key_arn).toBe(ref(ingestionKey(json), "arn"));
      expect(fn.environment.variables).toMatchObject({
        DATASET: "shipments",
        DATASET_CONTRACT: JSON.stringify(shipments.jobContract()),
        API_URL: new URL("/v1/shipments", config.ingestion.api.baseUrl).toString(),
        API_SECRET_ARN: ref(byPath(json, "aws_secretsmanager_secret", "ingestion/api-credentials-secret"), "arn"),
        RAW_BUCKET: ref(zoneBucket(json, "raw"), "bucket"),
        RAW_KMS_KEY_ARN: ref(zoneKey(json, "raw"), "arn"),
        QUARANTINE_BUCKET: ref(zoneBucket(json, "quarantine"), "bucket"),
        QUARANTINE_KMS_KEY_ARN: ref(zoneKey(json, "quarantine"), "arn"),
        DEAD_LETTER_QUEUE_URL: ref(byPath(json, "aws_sqs_queue", "ingestion/dead-letters"), "url"),
        MAX_ATTEMPTS: String(config.ingestion.api.maxAttempts),
        REQUEST_TIMEOUT_MS: String(config.ingestion.api.requestTimeoutSeconds * 1000),
        MAX_PAGE_BYTES: String(config.ingestion.api.maxPageBytes),
      });
    });

    it("logs to its own log group with the environment's retention, encrypted with the ingestion key", () => {
      const group = byPath(json, "aws_cloudwatch_log_group", "ingestion/api-shipments/logs").body;
      expect(group).toEqual(
        expect.objectContaining({
          name: `/aws/lambda/${prefix}-ingest-shipments`,
          retention_in_days: config.logs.retentionDays,
          kms_key_id: ref(ingestionKey(json), "arn"),
        }),
      );
      expect(fn.logging_config).toMatchObject({
        log_format: "JSON",
        log_group: ref(byPath(json, "aws_cloudwatch_log_group", "ingestion/api-shipments/logs"), "name"),
      });
      // CloudWatch Logs may use the key for the platform's Lambda and Firehose groups only.
      const statement = JSON.parse(ingestionKey(json).body.policy).Statement.find(
        (s: { Sid: string }) => s.Sid === "IngestionLogs",
      );
      expect(statement.Condition.ArnLike["kms:EncryptionContext:aws:logs:arn"]).toEqual([
        `arn:aws:logs:${config.region}:${config.accountId}:log-group:/aws/lambda/${prefix}-*`,
        `arn:aws:logs:${config.region}:${config.accountId}:log-group:/aws/kinesisfirehose/${prefix}-*`,
      ]);
    });

    it("runs on the environment's schedule; what the scheduler cannot deliver and what fails after Lambda's retries reach the dead-letter queue", () => {
      const dlq = ref(byPath(json, "aws_sqs_queue", "ingestion/dead-letters"), "arn");
      const schedule = byPath(json, "aws_scheduler_schedule", "ingestion/api-shipments/schedule").body;
      expect(schedule).toMatchObject({
        schedule_expression: config.ingestion.api.schedule,
        schedule_expression_timezone: "UTC",
        flexible_time_window: { mode: "OFF" },
        target: {
          arn: ref(byPath(json, "aws_lambda_function", "ingestion/api-shipments/function"), "arn"),
          dead_letter_config: { arn: dlq },
        },
      });
      const invoke = byPath(json, "aws_lambda_function_event_invoke_config", "ingestion/api-shipments/async").body;
      expect(invoke).toMatchObject({
        maximum_retry_attempts: config.ingestion.api.asyncRetryAttempts,
        maximum_event_age_in_seconds: config.ingestion.api.maxEventAgeSeconds,
        destination_config: { on_failure: { destination: dlq } },
      });
    });

    it("the dead-letter queue keeps messages 14 days, is encrypted with the ingestion key and refuses plain HTTP", () => {
      const queue = byPath(json, "aws_sqs_queue", "ingestion/dead-letters").body;
      expect(queue).toMatchObject({
        name: `${prefix}-ingest-dlq`,
        message_retention_seconds: 1209600,
        kms_master_key_id: ref(ingestionKey(json), "arn"),
      });
      const policy = JSON.parse(byPath(json, "aws_sqs_queue_policy", "ingestion/dead-letters-policy").body.policy);
      expect(policy.Statement).toEqual([
        expect.objectContaining({
          Effect: "Deny",
          Principal: "*",
          Action: "sqs:*",
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        }),
      ]);
    });

    it("creates the credentials secret (KMS) but never a secret value", () => {
      const secrets = resources(json, "aws_secretsmanager_secret");
      for (const s of secrets) expect(s.body.kms_key_id).toBe(ref(ingestionKey(json), "arn"));
      expect(secrets.map((s) => s.body.name).sort()).toEqual([`${prefix}-api-credentials`, `${prefix}-rds-source`]);
      expect(resources(json, "aws_secretsmanager_secret_version")).toEqual([]);
    });
  });

  describe("the Glue jobs", () => {
    const jobs = resources(json, "aws_glue_job");
    const job = (dataset: string, kind: string) =>
      byPath(json, "aws_glue_job", `ingestion/glue/${dataset}-${kind}`).body;

    it("raw → processed and processed → consumer for every dataset, and an extract for each RDS and DynamoDB source", () => {
      const expected = [
        ...datasets.flatMap((d) => [
          `${prefix}-${d.name}-raw-to-processed`,
          `${prefix}-${d.name}-processed-to-consumer`,
        ]),
        `${prefix}-customers-dynamodb-extract`,
        `${prefix}-orders-rds-extract`,
      ];
      expect(jobs.map((j) => j.body.name).sort()).toEqual(expected.sort());
    });

    it("take the environment's worker type and count, timeout, retries, concurrency, metrics and logging, and the catalog's security configuration", () => {
      const g = config.ingestion.glue;
      for (const { body } of jobs) {
        expect(body).toMatchObject({
          glue_version: "5.0",
          worker_type: g.workerType,
          number_of_workers: g.numberOfWorkers,
          timeout: g.timeoutMinutes,
          max_retries: g.maxRetries,
          security_configuration: `${prefix}-glue`,
        });
        // Pipeline jobs run one at a time (they merge into stored partitions); extracts take the setting.
        const pipelineJob = /-(raw-to-processed|processed-to-consumer)$/.test(body.name);
        expect(body.execution_property).toEqual({ max_concurrent_runs: pipelineJob ? 1 : g.maxConcurrentRuns });
        expect(body.default_arguments).toMatchObject({
          "--enable-metrics": String(g.metrics),
          "--enable-continuous-cloudwatch-log": String(g.continuousLogging),
          "--job-language": "python",
        });
      }
    });

    it("bookmarks make only the RDS extract incremental; every other job reruns over its paths identically", () => {
      for (const { body } of jobs) {
        const expected = body.name.endsWith("-rds-extract")
          ? `job-bookmark-${config.ingestion.glue.bookmarks}`
          : "job-bookmark-disable";
        expect({ job: body.name, bookmarks: body.default_arguments["--job-bookmark-option"] }).toEqual({
          job: body.name,
          bookmarks: expected,
        });
      }
    });

    it("run the uploaded script of their kind and the dataplat_glue package, both keyed by content hash in the artifacts bucket", () => {
      const objects = Object.fromEntries(
        resources(json, "aws_s3_object").map((o) => [o.name.replace(/_[0-9A-F]{8}$/, ""), o]),
      );
      for (const kind of ["raw_to_processed", "processed_to_consumer", "rds_extract", "dynamodb_extract"]) {
        const object = objects[`ingestion_glue_script-${kind}`].body;
        expect(object.key).toBe(`glue/scripts/${sha256(`glue-jobs/jobs/${kind}.py`)}/${kind}.py`);
        expect(object).toMatchObject({
          server_side_encryption: "aws:kms",
          kms_key_id: ref(byPath(json, "aws_kms_key", "ingestion/artifacts-key"), "arn"),
        });
        expect(object.source).toMatch(
          new RegExp(`^assets/ingestion_glue_script-${kind}-asset_[0-9A-F]{8}/[0-9a-f]{64}/${kind}\\.py$`),
        );
      }
      const pkg = objects["ingestion_glue_package"].body;
      expect(pkg.key).toBe(`glue/packages/${gluePackage().sha256}/dataplat_glue.zip`);
      const bucket = ref(byPath(json, "aws_s3_bucket", "ingestion/artifacts/bucket"), "bucket");
      expect(job("orders", "raw_to_processed").command).toEqual({
        name: "glueetl",
        python_version: "3",
        script_location: `s3://${bucket}/${ref(objects["ingestion_glue_script-raw_to_processed"], "key")}`,
      });
      for (const { body } of jobs)
        expect(body.default_arguments["--extra-py-files"]).toBe(
          `s3://${bucket}/${ref(objects["ingestion_glue_package"], "key")}`,
        );
    });

    it("pass each dataset's job contract and paths per glue-jobs/dataplat_glue's arguments, at the catalog's table locations", () => {
      const uri = (zone: string, path: string) => `s3://${ref(zoneBucket(json, zone), "bucket")}/${path}`;
      for (const dataset of datasets) {
        const r2p = job(dataset.name, "raw_to_processed").default_arguments;
        expect(r2p).toMatchObject({
          "--dataset_contract": JSON.stringify(dataset.jobContract()),
          "--raw_root": uri("raw", `${dataset.name}/`),
          "--output_path": uri("processed", `${dataset.name}/`),
          "--quarantine_path": uri("quarantine", `${dataset.name}/raw_to_processed/`),
          // A hand-run's summary goes beside the pipeline runs' (the folder of per-run summaries).
          "--summary_path": uri("quarantine", `${dataset.name}/raw_to_processed/runs/`),
        });
        // A run's manifest comes from the pipeline, never from a default.
        expect(r2p).not.toHaveProperty("--manifest_path");
        // Nor is the whole dataset a default input: a run given its manifest must not also get --input_path.
        expect(r2p).not.toHaveProperty("--input_path");
        const p2c = job(dataset.name, "processed_to_consumer").default_arguments;
        expect(p2c).toMatchObject({
          "--input_path": uri("processed", `${dataset.name}/`),
          "--output_path": uri("consumer", `${dataset.name}/`),
          "--summary_path": uri("quarantine", `${dataset.name}/processed_to_consumer/runs/`),
        });
        expect(p2c).not.toHaveProperty("--partitions_path");
        // The consumer table reads where the job writes.
        const table = byPath(json, "aws_glue_catalog_table", `catalog/${dataset.name}-consumer`).body;
        expect(table.storage_descriptor.location).toBe(p2c["--output_path"]);
      }
      const ddb = job("customers", "dynamodb_extract").default_arguments;
      expect(ddb).toMatchObject({
        "--table_arn": `arn:aws:dynamodb:${config.region}:${config.accountId}:table/customers`,
        "--export_bucket": ref(byPath(json, "aws_s3_bucket", "ingestion/scratch/bucket"), "bucket"),
        "--export_prefix": "dynamodb-exports/customers/",
        "--output_path": uri("raw", "customers/"),
      });
    });

    it("every extract stages under _staging/<dataset>/ in the raw bucket: outside the prefix its trigger rule and crawler watch, and granted there", () => {
      const uri = (zone: string, path: string) => `s3://${ref(zoneBucket(json, zone), "bucket")}/${path}`;
      const extracts = datasets.filter(
        (d) => d.contract.source.kind === "rds" || d.contract.source.kind === "dynamodb",
      );
      expect(extracts.length).toBeGreaterThan(0);
      const rules = resources(json, "aws_cloudwatch_event_rule").filter((r) => r.body.name.endsWith("-raw-created"));
      const crawlers = resources(json, "aws_glue_crawler");
      for (const dataset of extracts) {
        const kind = dataset.contract.source.kind === "rds" ? "rds_extract" : "dynamodb_extract";
        const args = job(dataset.name, kind).default_arguments;
        expect(args["--staging_path"]).toBe(uri("raw", `_staging/${dataset.name}/`));
        expect(args["--staging_path"].startsWith(args["--output_path"])).toBe(false);
        for (const rule of rules) {
          const prefixes: string[] = JSON.parse(rule.body.event_pattern).detail.object.key.map(
            (k: { prefix: string }) => k.prefix,
          );
          for (const prefix of prefixes)
            expect(`_staging/${dataset.name}/run/raw/part.txt.gz`.startsWith(prefix)).toBe(false);
        }
        for (const crawler of crawlers) {
          for (const target of crawler.body.s3_target ?? []) expect(String(target.path)).not.toContain("_staging");
        }
        const policy = JSON.parse(
          byPath(json, "aws_iam_role_policy", `ingestion/glue/${dataset.name}-${kind}-role/policy`).body.policy,
        );
        const staged = `${refOf(zoneBucket(json, "raw"))}.arn}/_staging/${dataset.name}/*`;
        const writes = policy.Statement.filter((st: { Action: string[]; Resource: string[] }) =>
          [st.Resource].flat().includes(staged),
        ).flatMap((st: { Action: string[] }) => [st.Action].flat());
        expect(writes).toEqual(expect.arrayContaining(["s3:PutObject", "s3:DeleteObject"]));
      }
    });

    it("the RDS extract reads through a JDBC connection in a private subnet with the Glue security group, its credentials in Secrets Manager", () => {
      const connection = byPath(json, "aws_glue_connection", "ingestion/glue/rds-connection");
      expect(connection.body).toMatchObject({
        name: `${prefix}-rds-source`,
        connection_type: "JDBC",
        connection_properties: {
          JDBC_CONNECTION_URL: config.ingestion.rds.jdbcUrl,
          SECRET_ID: ref(byPath(json, "aws_secretsmanager_secret", "ingestion/rds-source-secret"), "name"),
          JDBC_ENFORCE_SSL: "true",
        },
        physical_connection_requirements: {
          security_group_id_list: [ref(byPath(json, "aws_security_group", "network/glue-sg"), "id")],
        },
      });
      expect(JSON.stringify(connection.body)).not.toMatch(/PASSWORD|USERNAME/);
      const extract = job("orders", "rds_extract");
      expect(extract.connections).toEqual([ref(connection, "name")]);
      expect(extract.default_arguments).toMatchObject({
        "--source_table": "public.orders",
        "--connection_name": ref(connection, "name"),
        "--connection_type": "postgresql",
      });
    });
  });

  describe("the stream (kinesis → Firehose)", () => {
    const layout = new PartitionLayout(config.partitioning);

    it("a KMS-encrypted stream with the environment's capacity mode and retention", () => {
      const stream = byPath(json, "aws_kinesis_stream", "ingestion/events-clickstream/kinesis").body;
      expect(stream).toMatchObject({
        name: `${prefix}-clickstream`,
        stream_mode_details: { stream_mode: config.ingestion.kinesis.capacityMode },
        retention_period: config.ingestion.kinesis.retentionHours,
        encryption_type: "KMS",
        kms_key_id: ref(ingestionKey(json), "arn"),
      });
    });

    it("Firehose partitions by the environment's spec (the same prefix and JQ the PartitionLayout renders), buffers and logs as configured, with an error prefix outside the dataset", () => {
      const firehose = byPath(
        json,
        "aws_kinesis_firehose_delivery_stream",
        "ingestion/events-clickstream/firehose",
      ).body;
      const s3 = firehose.extended_s3_configuration;
      expect(firehose.kinesis_source_configuration.kinesis_stream_arn).toBe(
        ref(byPath(json, "aws_kinesis_stream", "ingestion/events-clickstream/kinesis"), "arn"),
      );
      expect(s3).toMatchObject({
        bucket_arn: ref(zoneBucket(json, "raw"), "arn"),
        kms_key_arn: ref(zoneKey(json, "raw"), "arn"),
        prefix: layout.firehosePrefix("clickstream/"),
        error_output_prefix: "_firehose-errors/clickstream/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/",
        buffering_size: config.ingestion.firehose.bufferingSizeMb,
        buffering_interval: config.ingestion.firehose.bufferingIntervalSeconds,
        compression_format: "GZIP",
        file_extension: ".json.gz",
        dynamic_partitioning_configuration: { enabled: true },
        cloudwatch_logging_options: { enabled: true },
      });
      const query = s3.processing_configuration.processors[0].parameters.find(
        (p: { parameter_name: string }) => p.parameter_name === "MetadataExtractionQuery",
      );
      expect(query.parameter_value).toBe(layout.firehoseQuery("event_time"));
      expect(s3.data_format_conversion_configuration).toBeUndefined();
      expect(s3.prefix).toBe(
        `clickstream/${config.partitioning.keys.map((k) => `${k.name}=!{partitionKeyFromQuery:${k.name}}/`).join("")}`,
      );
    });
  });

  it("EMR Serverless exists only where the environment opts in, with its release, ceiling and auto-stop", () => {
    const apps = resources(json, "aws_emrserverless_application");
    const emr = config.ingestion.emrServerless;
    if (!emr.enabled) {
      expect(apps).toEqual([]);
      return;
    }
    expect(apps.map((a) => a.body)).toEqual([
      expect.objectContaining({
        name: `${prefix}-spark`,
        type: "spark",
        release_label: emr.releaseLabel,
        maximum_capacity: { cpu: `${emr.maxCapacity.cpuVcpu} vCPU`, memory: `${emr.maxCapacity.memoryGb} GB` },
        auto_stop_configuration: { enabled: true, idle_timeout_minutes: emr.autoStopMinutes },
      }),
    ]);
  });

  it("outputs what orchestration and operators need, named <resource>_<attribute>", () => {
    const outputs = defined(json.output, "the stack outputs");
    expect(outputs.ingestion_api_function_names.value).toEqual({
      shipments: ref(byPath(json, "aws_lambda_function", "ingestion/api-shipments/function"), "function_name"),
    });
    expect(Object.keys(outputs.ingestion_glue_job_names.value).sort()).toEqual([
      "clickstream",
      "customers",
      "orders",
      "shipments",
    ]);
    expect(Object.keys(outputs.ingestion_glue_job_names.value.orders).sort()).toEqual([
      "extract",
      "processedToConsumer",
      "rawToProcessed",
    ]);
    expect(Object.keys(outputs.ingestion_glue_job_names.value.shipments).sort()).toEqual([
      "processedToConsumer",
      "rawToProcessed",
    ]);
    for (const name of [
      "ingestion_dead_letter_queue_url",
      "ingestion_kinesis_stream_names",
      "ingestion_firehose_stream_names",
      "ingestion_artifacts_bucket_name",
      "ingestion_api_credentials_secret_arn",
    ]) {
      expect(outputs[name]).toBeDefined();
    }
    expect(outputs.emr_serverless_application_id !== undefined).toBe(config.ingestion.emrServerless.enabled);
  });
});

describe("environments differ as configured", () => {
  it("schedules, capacity, bookmarks and opt-ins per environment", () => {
    const summary = Object.fromEntries(
      loadEnvironments().map((e) => [
        e.name,
        {
          schedule: e.ingestion.api.schedule,
          workers: `${e.ingestion.glue.numberOfWorkers} × ${e.ingestion.glue.workerType}`,
          emr: e.ingestion.emrServerless.enabled,
          rds: e.ingestion.rds.jdbcUrl.replace(/^jdbc:postgresql:\/\/([^:/]+).*$/, "$1"),
        },
      ]),
    );
    expect(summary).toEqual({
      dev: { schedule: "rate(6 hours)", workers: "2 × G.1X", emr: false, rds: "orders-db.dev.internal.example" },
      staging: { schedule: "rate(1 hour)", workers: "2 × G.1X", emr: true, rds: "orders-db.staging.internal.example" },
      prod: { schedule: "rate(15 minutes)", workers: "10 × G.2X", emr: true, rds: "orders-db.prod.internal.example" },
      local: { schedule: "rate(1 hour)", workers: "2 × G.1X", emr: false, rds: "127.0.0.1" },
    });
  });
});

describe("the emulator", () => {
  it("local turns EMR Serverless off with the reason moto gives, shown in platform_disabled_features; no AWS environment turns anything of ingestion off", () => {
    for (const { config, json } of synthAll()) {
      const disabled = defined(json.output, "the stack outputs").platform_disabled_features.value;
      if (config.name === "local") expect(disabled.emrServerless).toMatch(/moto 5\.2\.1.*"spark"/);
      else expect(disabled.emrServerless).toBeUndefined();
    }
  });
});

describe("Parquet conversion (opt-in)", () => {
  const config = withIngestion(prod, { firehose: { parquetConversion: true } });
  const json = synthEnvironment(config);

  it("delivers Parquet to the processed zone against the dataset's processed table, and drops the Glue raw → processed job it replaces", () => {
    const s3 = byPath(json, "aws_kinesis_firehose_delivery_stream", "ingestion/events-clickstream/firehose").body
      .extended_s3_configuration;
    expect(s3.bucket_arn).toBe(ref(zoneBucket(json, "processed"), "arn"));
    expect(s3.kms_key_arn).toBe(ref(zoneKey(json, "processed"), "arn"));
    expect(s3.compression_format).toBe("UNCOMPRESSED");
    expect(s3.data_format_conversion_configuration).toMatchObject({
      enabled: true,
      schema_configuration: {
        database_name: "dataplat_prod_processed",
        table_name: ref(byPath(json, "aws_glue_catalog_table", "catalog/clickstream-processed"), "name"),
      },
      output_format_configuration: { serializer: { parquet_ser_de: { compression: "SNAPPY" } } },
    });
    const names = resources(json, "aws_glue_job").map((j) => j.body.name);
    expect(names).not.toContain("dataplat-prod-clickstream-raw-to-processed");
    expect(names).toContain("dataplat-prod-clickstream-processed-to-consumer");
  });
});

describe("the Lambda budget", () => {
  it("a timeout shorter than an API dataset's declared run fails synth naming environment, field and rule", () => {
    const config = withIngestion(prod, { api: { timeoutSeconds: 120 } });
    let error: unknown;
    try {
      synthEnvironment(config);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      "Invalid environment configuration (1 problem):\n  - prod: ingestion.api.timeoutSeconds: must cover dataset shipments's declared run of 3 minutes (180 s) (got 120)",
    );
  });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a partial environment section, merged into the typed one
function withIngestion(definition: typeof prod | typeof local, ingestion: Record<string, any>): EnvironmentConfig {
  const [config] = loadEnvironments([{ ...definition, ingestion: mergeDeep(definition.ingestion ?? {}, ingestion) }]);
  return config;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a partial environment section, merged into the typed one
function mergeDeep(a: any, b: any): any {
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null || Array.isArray(b)) return b;
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = mergeDeep(a[k], v);
  return out;
}
