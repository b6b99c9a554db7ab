import { DATASETS, PartitionedDataset } from "../../datasets";
import { WORKGROUPS, oneDayQuery, quickSightType } from "../../modules/analytics";
import { asArray, byPath, refOf, resources, synthAll, synthNamed, TerraformJson } from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

const ref = (json: TerraformJson, type: string, path: string, attr: string) =>
  `${refOf(byPath(json, type, path))}.${attr}}`;

describe.each(synthAll().map((e) => [e.config.name, e] as const))("%s: Athena", (_env, { config, json }) => {
  it.each([...WORKGROUPS])(
    "%s workgroup enforces the environment's cutoff, pinned engine, metrics and encrypted results",
    (name) => {
      const workgroup = byPath(json, "aws_athena_workgroup", `analytics/athena/${name}`).body;
      expect(workgroup.name).toBe(`dataplat-${config.name}-${name}`);
      expect(workgroup.force_destroy).toBe(config.protection.forceDestroy);
      const c = workgroup.configuration;
      expect(c.enforce_workgroup_configuration).toBe(true);
      expect(c.publish_cloudwatch_metrics_enabled).toBe(true);
      expect(c.bytes_scanned_cutoff_per_query).toBe(config.athena.bytesScannedCutoffPerQuery);
      expect(c.engine_version).toEqual({ selected_engine_version: config.athena.engineVersion });
      expect(c.result_configuration).toEqual({
        output_location: `s3://${ref(json, "aws_s3_bucket", "analytics/athena/results/bucket", "bucket")}/${name}/`,
        expected_bucket_owner: config.accountId,
        acl_configuration: { s3_acl_option: "BUCKET_OWNER_FULL_CONTROL" },
        encryption_configuration: {
          encryption_option: "SSE_KMS",
          kms_key_arn: ref(json, "aws_kms_key", "analytics/athena/results-key", "arn"),
        },
      });
    },
  );

  it("keeps results in their own bucket, encrypted with their own key, expiring after the configured days", () => {
    const bucket = refOf(byPath(json, "aws_s3_bucket", "analytics/athena/results/bucket"));
    const lifecycle = defined(
      resources(json, "aws_s3_bucket_lifecycle_configuration").find((r) => r.body.bucket === `${bucket}.id}`),
      "the Athena results bucket's lifecycle configuration",
    );
    const current = lifecycle.body.rule.find((r: { id: string }) => r.id === "current-versions");
    expect(current.expiration).toEqual([{ days: config.athena.resultsRetentionDays }]);
    const sse = defined(
      resources(json, "aws_s3_bucket_server_side_encryption_configuration").find(
        (r) => r.body.bucket === `${bucket}.id}`,
      ),
      "the Athena results bucket's encryption configuration",
    );
    expect(sse.body.rule[0].apply_server_side_encryption_by_default).toEqual({
      sse_algorithm: "aws:kms",
      kms_master_key_id: ref(json, "aws_kms_key", "analytics/athena/results-key", "arn"),
    });
  });

  it.each(DATASETS.map((d) => [d.name, d] as const))(
    "%s: a named query over its consumer table that prunes to one day",
    (_name, contract) => {
      const dataset = new PartitionedDataset(contract, config.partitioning, config.name);
      const query = byPath(json, "aws_athena_named_query", `analytics/athena/${dataset.name}-query`).body;
      expect(query.workgroup).toBe(ref(json, "aws_athena_workgroup", "analytics/athena/analysts", "name"));
      expect(query.database).toBe(ref(json, "aws_glue_catalog_database", "catalog/consumer-database", "name"));
      const day = config.partitioning.keys[0].type === "date" ? config.partitioning.keys[0].rangeStart : "";
      expect(query.query).toBe(oneDayQuery(dataset, `dataplat_${config.name}_consumer`, day));
      expect(query.query).toContain(`FROM "dataplat_${config.name}_consumer"."${dataset.consumerTableName}"`);
      expect(query.query).toContain(`WHERE ${dataset.layout.athenaPredicate(day)}`);
      expect(query.query).toContain(`WHERE ${config.partitioning.keys[0].name} = '${day}'`);
    },
  );
});

describe("Athena cutoffs match each environment's config", () => {
  it("dev 1 GiB, staging 10 GiB, prod 100 GiB, local none", () => {
    const cutoffs = Object.fromEntries(
      synthAll().map(({ config, json }) => [
        config.name,
        resources(json, "aws_athena_workgroup").map((w) => w.body.configuration.bytes_scanned_cutoff_per_query),
      ]),
    );
    expect(cutoffs).toEqual({
      dev: [1024 ** 3, 1024 ** 3],
      staging: [10 * 1024 ** 3, 10 * 1024 ** 3],
      prod: [100 * 1024 ** 3, 100 * 1024 ** 3],
      local: [undefined, undefined],
    });
  });
});

describe("Redshift Serverless", () => {
  const enabled = synthAll().filter((e) => e.config.redshift.enabled);
  const disabled = synthAll().filter((e) => !e.config.redshift.enabled);

  it("is on in dev, staging and prod, and off in local", () => {
    expect([enabled.map((e) => e.config.name), disabled.map((e) => e.config.name)]).toEqual([
      ["dev", "staging", "prod"],
      ["local"],
    ]);
  });

  describe.each(enabled.map((e) => [e.config.name, e] as const))("%s", (_env, { config, json }) => {
    const namespace = byPath(json, "aws_redshiftserverless_namespace", "analytics/warehouse/namespace").body;
    const workgroup = byPath(json, "aws_redshiftserverless_workgroup", "analytics/warehouse/workgroup").body;
    const key = ref(json, "aws_kms_key", "analytics/warehouse/key", "arn");
    const spectrumRole = ref(json, "aws_iam_role", "analytics/warehouse/spectrum-role", "arn");

    it("namespace: KMS-encrypted, admin password managed by Secrets Manager, Spectrum role attached", () => {
      expect(namespace).toMatchObject({
        kms_key_id: key,
        manage_admin_password: true,
        admin_password_secret_kms_key_id: key,
        iam_roles: [spectrumRole],
        default_iam_role_arn: spectrumRole,
      });
      expect(namespace.admin_user_password).toBeUndefined();
      expect(namespace.lifecycle?.prevent_destroy ?? false).toBe(config.protection.preventDestroy);
    });

    it("workgroup: capacity from config, private, in the platform's subnets and security group", () => {
      expect(workgroup.base_capacity).toBe(config.redshift.baseCapacityRpu);
      expect(workgroup.max_capacity).toBe(config.redshift.maxCapacityRpu);
      expect(workgroup.publicly_accessible).toBe(false);
      expect(workgroup.enhanced_vpc_routing).toBe(true);
      expect(workgroup.security_group_ids).toEqual([ref(json, "aws_security_group", "network/redshift-sg", "id")]);
      const expectedSubnets =
        config.network.mode === "adopt"
          ? config.network.subnets.map((s) => s.id)
          : config.network.availabilityZones.map((az) => ref(json, "aws_subnet", `network/private-${az}`, "id"));
      expect(workgroup.subnet_ids).toEqual(expectedSubnets);
      expect(workgroup.config_parameter).toContainEqual({ parameter_key: "require_ssl", parameter_value: "true" });
    });

    it("creates the external schema over the consumer database through the Data API, with the admin secret", () => {
      const statement = byPath(json, "aws_redshiftdata_statement", "analytics/warehouse/external-schema").body;
      expect(statement.workgroup_name).toBe(
        ref(json, "aws_redshiftserverless_workgroup", "analytics/warehouse/workgroup", "workgroup_name"),
      );
      expect(statement.secret_arn).toBe(
        ref(json, "aws_redshiftserverless_namespace", "analytics/warehouse/namespace", "admin_password_secret_arn"),
      );
      expect(statement.sql).toBe(
        `CREATE EXTERNAL SCHEMA IF NOT EXISTS lake FROM DATA CATALOG DATABASE '${ref(json, "aws_glue_catalog_database", "catalog/consumer-database", "name")}' IAM_ROLE '${spectrumRole}' REGION '${config.region}'`,
      );
    });
  });

  it("capacities match config, and dev and prod differ as configured", () => {
    const capacities = Object.fromEntries(
      enabled.map(({ config, json }) => {
        const w = byPath(json, "aws_redshiftserverless_workgroup", "analytics/warehouse/workgroup").body;
        expect([w.base_capacity, w.max_capacity]).toEqual([
          config.redshift.baseCapacityRpu,
          config.redshift.maxCapacityRpu,
        ]);
        return [config.name, [w.base_capacity, w.max_capacity]];
      }),
    );
    expect(capacities).toEqual({ dev: [8, 32], staging: [8, 64], prod: [32, 256] });
  });

  it.each(disabled.map((e) => [e.config.name, e] as const))(
    "%s: no warehouse resources, and the reason is in the outputs",
    (_env, { config, json }) => {
      expect(resources(json).filter((r) => /^aws_redshift/.test(r.type))).toEqual([]);
      expect(resources(json, "aws_iam_role").map((r) => r.body.name)).not.toContain(
        `dataplat-${config.name}-redshift-spectrum`,
      );
      expect(Object.keys(json.output ?? {}).filter((o) => o.startsWith("redshift_"))).toEqual([]);
      expect(defined(json.output, "the stack outputs").platform_disabled_features.value.redshift).toBe(
        config.redshift.disabledReason,
      );
      expect(config.redshift.disabledReason).toMatch(/Redshift Serverless/);
    },
  );
});

describe("QuickSight", () => {
  it("exists only where an environment opts in (prod)", () => {
    const withQuickSight = synthAll()
      .filter(({ json }) => resources(json).some((r) => r.type.startsWith("aws_quicksight_")))
      .map((e) => e.config.name);
    expect(withQuickSight).toEqual(
      synthAll()
        .filter((e) => e.config.quicksight.enabled)
        .map((e) => e.config.name),
    );
    expect(withQuickSight).toEqual(["prod"]);
  });

  it("local says why it has no QuickSight", () => {
    const { config, json } = synthNamed("local");
    expect(defined(json.output, "the stack outputs").platform_disabled_features.value).toEqual({
      redshift: config.redshift.disabledReason,
      quicksight: config.quicksight.disabledReason,
      emrServerless: config.ingestion.emrServerless.disabledReason,
      pipelineBatching: config.orchestration.batching.disabledReason,
      streamSql: config.streamSql.disabledReason,
    });
  });

  describe("prod", () => {
    const { config, json } = synthNamed("prod");
    const principal = defined(config.quicksight.principalArn, "prod's QuickSight principal ARN");

    it("an Athena data source through the analysts workgroup, usable (not editable) by the configured principal", () => {
      const source = byPath(json, "aws_quicksight_data_source", "analytics/quicksight/athena").body;
      expect(source.type).toBe("ATHENA");
      expect(source.parameters).toEqual({
        athena: { work_group: ref(json, "aws_athena_workgroup", "analytics/athena/analysts", "name") },
      });
      expect(asArray(source.permission)).toEqual([
        {
          principal,
          actions: [
            "quicksight:DescribeDataSource",
            "quicksight:DescribeDataSourcePermissions",
            "quicksight:PassDataSource",
          ],
        },
      ]);
    });

    it.each(DATASETS.map((d) => [d.name, d] as const))(
      "%s: a direct-query dataset over its consumer table, shared with the principal",
      (_name, contract) => {
        const dataset = new PartitionedDataset(contract, config.partitioning, config.name);
        const set = byPath(json, "aws_quicksight_data_set", `analytics/quicksight/${dataset.name}-data-set`).body;
        expect(set.import_mode).toBe("DIRECT_QUERY");
        const table = set.physical_table_map[0].relational_table;
        expect(table).toMatchObject({
          data_source_arn: ref(json, "aws_quicksight_data_source", "analytics/quicksight/athena", "arn"),
          catalog: "AwsDataCatalog",
          schema: ref(json, "aws_glue_catalog_database", "catalog/consumer-database", "name"),
          name: dataset.consumerTableName,
        });
        expect(table.input_columns).toEqual([
          ...config.partitioning.keys.map((k) => ({ name: k.name, type: "STRING" })),
          ...dataset.consumerColumns().map((c) => ({ name: c.name, type: quickSightType(c.type) })),
        ]);
        expect(asArray(set.permissions).map((p: { principal: string }) => p.principal)).toEqual([principal]);
      },
    );
  });

  it("maps contract column types to QuickSight types", () => {
    expect(
      ["string", "int", "bigint", "double", "decimal(12,2)", "boolean", "date", "timestamp"].map((t) =>
        quickSightType(t as never),
      ),
    ).toEqual(["STRING", "INTEGER", "INTEGER", "DECIMAL", "DECIMAL", "BOOLEAN", "DATETIME", "DATETIME"]);
  });
});
