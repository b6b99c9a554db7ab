import { DATASETS, PartitionedDataset } from "../../datasets";
import { ZONES } from "../../datasets";
import { CRAWLER_CONFIGURATION } from "../../modules/catalog";
import { asArray, byPath, refOf, resources, synthAll, synthNamed, TerraformJson } from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

const zoneBucket = (json: TerraformJson, zone: string) => byPath(json, "aws_s3_bucket", `lake/${zone}/bucket`);
const database = (json: TerraformJson, zone: string) =>
  byPath(json, "aws_glue_catalog_database", `catalog/${zone}-database`);

describe.each(synthAll().map((e) => [e.config.name, e] as const))("%s: catalog", (_env, { config, json }) => {
  it("has one Glue database per lake zone, at the zone's bucket", () => {
    const databases = resources(json, "aws_glue_catalog_database");
    expect(databases.map((d) => d.body.name).sort()).toEqual(ZONES.map((z) => `dataplat_${config.name}_${z}`).sort());
    for (const zone of ZONES)
      expect(database(json, zone).body.location_uri).toBe(`s3://${refOf(zoneBucket(json, zone))}.bucket}/`);
  });

  describe.each(DATASETS.map((d) => [d.name, d] as const))("%s", (_name, contract) => {
    const dataset = new PartitionedDataset(contract, config.partitioning, config.name);
    const cases = [
      ["processed", dataset.name, dataset.dataColumns],
      ["consumer", dataset.consumerTableName, dataset.consumerColumns()],
    ] as const;

    it.each(cases)(
      "%s table: Parquet, partition keys from the environment's spec, projection from the same spec",
      (zone, tableName, columns) => {
        const table = byPath(json, "aws_glue_catalog_table", `catalog/${dataset.name}-${zone}`).body;
        const location = `s3://${refOf(zoneBucket(json, zone))}.bucket}/${dataset.name}/`;
        expect(table.name).toBe(tableName);
        expect(table.database_name).toBe(`${refOf(database(json, zone))}.name}`);
        expect(table.table_type).toBe("EXTERNAL_TABLE");
        // Partition keys are exactly the environment's keys, in order, as strings (Hive paths carry strings).
        expect(table.partition_keys).toEqual(
          config.partitioning.keys.map((k) => expect.objectContaining({ name: k.name, type: "string" })),
        );
        expect(table.storage_descriptor.columns.map((c: { name: string; type: string }) => [c.name, c.type])).toEqual(
          columns.map((c) => [c.name, c.type]),
        );
        expect(table.storage_descriptor).toMatchObject({
          location,
          input_format: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
          output_format: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
          ser_de_info: { serialization_library: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe" },
        });
        expect(table.parameters).toEqual({
          EXTERNAL: "TRUE",
          classification: "parquet",
          "parquet.compression": "SNAPPY",
          ...dataset.layout.projectionParameters(location),
        });
        // The template's placeholders are Terraform-escaped; the bucket stays a real reference.
        expect(table.parameters["storage.location.template"]).toBe(
          location + config.partitioning.keys.map((k) => `${k.name}=$\${${k.name}}/`).join(""),
        );
        // No data column repeats a partition column.
        const partitionNames = config.partitioning.keys.map((k) => k.name);
        expect(columns.filter((c) => partitionNames.includes(c.name))).toEqual([]);
      },
    );

    it("raw crawler: the dataset's raw folder, on the environment's schedule, new folders only, schema changes logged", () => {
      const crawler = byPath(json, "aws_glue_crawler", `catalog/${dataset.name}-crawler`).body;
      expect(crawler).toMatchObject({
        name: `dataplat-${config.name}-raw-${dataset.name}`,
        database_name: `${refOf(database(json, "raw"))}.name}`,
        schedule: config.catalog.crawlerSchedule,
        recrawl_policy: { recrawl_behavior: "CRAWL_NEW_FOLDERS_ONLY" },
        // AWS accepts only LOG/LOG with new-folders-only; the contract, not the crawler, owns the schema.
        schema_change_policy: { update_behavior: "LOG", delete_behavior: "LOG" },
        security_configuration: `${refOf(byPath(json, "aws_glue_security_configuration", "catalog/security-configuration"))}.name}`,
        role: `${refOf(byPath(json, "aws_iam_role", "catalog/crawler-role"))}.arn}`,
      });
      expect(asArray(crawler.s3_target).map((t: { path: string }) => t.path)).toEqual([
        `s3://${refOf(zoneBucket(json, "raw"))}.bucket}/${dataset.name}/`,
      ]);
      expect(JSON.parse(crawler.configuration)).toEqual(JSON.parse(CRAWLER_CONFIGURATION));
      expect(JSON.parse(crawler.configuration).Grouping.TableLevelConfiguration).toBe(2); // table = dataset folder
    });
  });

  it("escapes every projection placeholder for Terraform JSON (a literal ${key} would be read as an interpolation)", () => {
    const text = JSON.stringify(json);
    for (const key of config.partitioning.keys) {
      expect(text).toContain(`${key.name}=$\${${key.name}}/`);
      expect(text).not.toMatch(new RegExp(`${key.name}=\\$\\{${key.name}\\}`)); // unescaped form
    }
  });

  it("encrypts the catalog, connection passwords, Glue logs and bookmarks with the catalog key; S3 keeps each zone's key", () => {
    const key = `${refOf(byPath(json, "aws_kms_key", "catalog/key"))}.arn}`;
    expect(resources(json, "aws_glue_data_catalog_encryption_settings")).toHaveLength(1);
    expect(
      byPath(json, "aws_glue_data_catalog_encryption_settings", "catalog/encryption").body
        .data_catalog_encryption_settings,
    ).toEqual({
      encryption_at_rest: { catalog_encryption_mode: "SSE-KMS", sse_aws_kms_key_id: key },
      connection_password_encryption: { return_connection_password_encrypted: true, aws_kms_key_id: key },
    });
    const security = byPath(json, "aws_glue_security_configuration", "catalog/security-configuration").body;
    expect(security.name).toBe(`dataplat-${config.name}-glue`);
    expect(security.encryption_configuration).toEqual({
      cloudwatch_encryption: { cloudwatch_encryption_mode: "SSE-KMS", kms_key_arn: key },
      job_bookmarks_encryption: { job_bookmarks_encryption_mode: "CSE-KMS", kms_key_arn: key },
      // A key here would be sent with every write and refused by every zone whose key differs.
      s3_encryption: { s3_encryption_mode: "DISABLED" },
    });
    for (const zone of ZONES) {
      const sse = defined(
        resources(json, "aws_s3_bucket_server_side_encryption_configuration").find(
          (r) => r.body.bucket === `${refOf(zoneBucket(json, zone))}.id}`,
        ),
        `the ${zone} bucket's encryption configuration`,
      );
      expect(sse.body.rule[0].apply_server_side_encryption_by_default.sse_algorithm).toBe("aws:kms");
    }
  });

  it("lets CloudWatch Logs use the catalog key for Glue's log groups only", () => {
    const policy = JSON.parse(byPath(json, "aws_kms_key", "catalog/key").body.policy);
    const logs = policy.Statement.find((s: { Sid: string }) => s.Sid === "GlueLogs");
    expect(logs.Principal).toEqual({ Service: `logs.${config.region}.amazonaws.com` });
    expect(logs.Condition).toEqual({
      ArnLike: {
        "kms:EncryptionContext:aws:logs:arn": `arn:aws:logs:${config.region}:${config.accountId}:log-group:/aws-glue/*`,
      },
    });
  });
});

describe("dev and prod differ exactly as configured", () => {
  const dev = synthNamed("dev");
  const prod = synthNamed("prod");
  const keysOf = (json: TerraformJson, path: string) =>
    byPath(json, "aws_glue_catalog_table", path).body.partition_keys.map((k: { name: string }) => k.name);

  it("partition keys: dt in dev, dt + region in prod, on every generated table", () => {
    for (const contract of DATASETS) {
      for (const zone of ["processed", "consumer"]) {
        expect(keysOf(dev.json, `catalog/${contract.name}-${zone}`)).toEqual(
          dev.config.partitioning.keys.map((k) => k.name),
        );
        expect(keysOf(prod.json, `catalog/${contract.name}-${zone}`)).toEqual(
          prod.config.partitioning.keys.map((k) => k.name),
        );
      }
    }
    expect([dev.config.partitioning.keys.map((k) => k.name), prod.config.partitioning.keys.map((k) => k.name)]).toEqual(
      [["dt"], ["dt", "region"]],
    );
  });

  it("region is a data column in dev and a projected partition in prod", () => {
    const table = (json: TerraformJson) => byPath(json, "aws_glue_catalog_table", "catalog/clickstream-processed").body;
    expect(table(dev.json).storage_descriptor.columns.map((c: { name: string }) => c.name)).toContain("region");
    expect(table(dev.json).parameters["projection.region.type"]).toBeUndefined();
    expect(table(prod.json).storage_descriptor.columns.map((c: { name: string }) => c.name)).not.toContain("region");
    expect(table(prod.json).parameters["projection.region.values"]).toBe("eu,us,apac");
  });

  it("crawler schedules: daily in dev, hourly in prod", () => {
    const schedules = (json: TerraformJson) => new Set(resources(json, "aws_glue_crawler").map((c) => c.body.schedule));
    expect([...schedules(dev.json)]).toEqual([dev.config.catalog.crawlerSchedule]);
    expect([...schedules(prod.json)]).toEqual([prod.config.catalog.crawlerSchedule]);
    expect([dev.config.catalog.crawlerSchedule, prod.config.catalog.crawlerSchedule]).toEqual([
      "cron(15 2 * * ? *)",
      "cron(15 * * * ? *)",
    ]);
  });
});

describe("Lake Formation", () => {
  it.each(
    synthAll()
      .filter((e) => !e.config.lakeFormation.enabled)
      .map((e) => [e.config.name, e.json] as const),
  )("%s has opted out: no Lake Formation resources", (_env, json) => {
    expect(resources(json).filter((r) => r.type.startsWith("aws_lakeformation_"))).toEqual([]);
  });

  describe.each(
    synthAll()
      .filter((e) => e.config.lakeFormation.enabled)
      .map((e) => [e.config.name, e] as const),
  )("%s", (_env, { config, json }) => {
    const settings = byPath(json, "aws_lakeformation_data_lake_settings", "catalog/lake-formation/settings");
    const permissions = resources(json, "aws_lakeformation_permissions");

    it("names the configured admins and gives new databases and tables no IAM-only default grant", () => {
      expect(settings.body.admins).toEqual(config.lakeFormation.admins);
      expect(settings.body.create_database_default_permissions).toBeUndefined();
      expect(settings.body.create_table_default_permissions).toBeUndefined();
      for (const zone of ZONES) expect(database(json, zone).body.depends_on).toEqual([refOf(settings).slice(2)]);
    });

    it("registers the raw, processed and consumer zones with a role that can only read them", () => {
      const registrations = resources(json, "aws_lakeformation_resource");
      expect(registrations.map((r) => r.body.arn).sort()).toEqual(
        ["raw", "processed", "consumer"].map((z) => `${refOf(zoneBucket(json, z))}.arn}`).sort(),
      );
      const role = byPath(json, "aws_iam_role", "catalog/lake-formation/registration-role");
      for (const r of registrations) expect(r.body.role_arn).toBe(`${refOf(role)}.arn}`);
      const statements = JSON.parse(
        byPath(json, "aws_iam_role_policy", "catalog/lake-formation/registration-role/policy").body.policy,
      ).Statement;
      const actions = statements.flatMap((s: { Action: string | string[] }) => asArray(s.Action));
      expect(new Set(actions)).toEqual(
        new Set(["s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject", "kms:Decrypt"]),
      );
    });

    it("consumers read the consumer zone and nothing else", () => {
      const consumerDb = `${refOf(database(json, "consumer"))}.name}`;
      for (const principal of config.lakeFormation.consumers) {
        const granted = permissions.filter((p) => p.body.principal === principal);
        expect(
          granted.map((p) => [
            p.body.database?.name ?? p.body.table?.database_name,
            p.body.permissions,
            p.body.table?.wildcard ?? false,
          ]),
        ).toEqual([
          [consumerDb, ["DESCRIBE"], false],
          [consumerDb, ["SELECT", "DESCRIBE"], true],
        ]);
        expect(granted.some((p) => p.body.data_location)).toBe(false);
      }
    });

    it("the crawler role may create tables in the raw database and point them at the raw zone, nothing more", () => {
      const role = `${refOf(byPath(json, "aws_iam_role", "catalog/crawler-role"))}.arn}`;
      const granted = permissions.filter((p) => p.body.principal === role);
      const rawDb = `${refOf(database(json, "raw"))}.name}`;
      for (const p of granted) {
        const target = p.body.database?.name ?? p.body.table?.database_name ?? p.body.data_location.arn;
        expect([rawDb, `${refOf(zoneBucket(json, "raw"))}.arn}`]).toContain(target);
      }
      expect(granted.find((p) => p.body.data_location)?.body.permissions).toEqual(["DATA_LOCATION_ACCESS"]);
    });
  });
});
