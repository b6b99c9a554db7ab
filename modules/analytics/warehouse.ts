/**
 * Redshift Serverless for OLAP over the lake: a KMS-encrypted namespace whose admin password
 * Secrets Manager manages (nobody types or stores it), a workgroup sized by the environment and
 * reachable only inside the VPC, a Spectrum role that reads the catalog and the consumer zone,
 * and the external schema over the consumer database, created as code through the Data API.
 */
import { RedshiftdataStatement } from "@cdktf/provider-aws/lib/redshiftdata-statement";
import { RedshiftserverlessNamespace } from "@cdktf/provider-aws/lib/redshiftserverless-namespace";
import { RedshiftserverlessWorkgroup } from "@cdktf/provider-aws/lib/redshiftserverless-workgroup";
import { Construct } from "constructs";
import type { Catalog } from "../catalog";
import type { Lake } from "../lake";
import { REDSHIFT_PORT, type Network } from "../network";
import { ValidationError } from "../shared/errors";
import { EncryptionKey } from "../shared/encryption-key";
import { ServiceRole } from "../shared/iam";
import type { Naming } from "../shared/naming";
import { stackOutput } from "../shared/outputs";

/** The warehouse database analysts connect to. */
export const WAREHOUSE_DATABASE = "analytics";
/** Schema in the warehouse that shows the consumer zone's tables. */
export const EXTERNAL_SCHEMA = "lake";
/** Admin user; its password lives in Secrets Manager only. ("admin" is common enough to be guessed first.) */
const ADMIN_USERNAME = "platform_admin";
/** Audit logs exported to CloudWatch: connections, user changes, every query. */
const LOG_EXPORTS = ["connectionlog", "userlog", "useractivitylog"];

export interface WarehouseProps {
  readonly naming: Naming;
  readonly accountId: string;
  readonly region: string;
  readonly lake: Lake;
  readonly catalog: Catalog;
  readonly network: Network;
  /** RPUs queries start with. */
  readonly baseCapacityRpu: number;
  /** RPUs the workgroup may scale to. */
  readonly maxCapacityRpu: number;
}

export class Warehouse extends Construct {
  readonly key: EncryptionKey;
  /** Attached to the namespace: what Spectrum (and COPY/UNLOAD) use to reach the catalog and the lake. */
  readonly spectrumRole: ServiceRole;
  readonly namespace: RedshiftserverlessNamespace;
  readonly workgroup: RedshiftserverlessWorkgroup;
  /** The Data API statement that creates the external schema over the consumer database. */
  readonly externalSchema: RedshiftdataStatement;
  /** ARN of the Secrets Manager secret holding the admin credentials. */
  readonly adminSecretArn: string;

  constructor(scope: Construct, id: string, props: WarehouseProps) {
    super(scope, id);
    const { naming, accountId, region, lake, catalog, network } = props;

    this.key = new EncryptionKey(this, "key", { naming, purpose: "warehouse", accountId, region });

    this.spectrumRole = new ServiceRole(this, "spectrum-role", {
      naming,
      name: "redshift-spectrum",
      service: "redshift.amazonaws.com",
      accountId,
      // Redshift's documented trust policy for Spectrum and COPY roles has no source conditions;
      // one it does not send would fail every external query. The role can only read the consumer zone.
      confusedDeputyConditions: false,
      description: "Redshift Spectrum: read the consumer zone and its catalog entries",
    });
    catalog.grantReadTables(this.spectrumRole, "consumer");
    lake.grantRead("consumer", this.spectrumRole);
    catalog.grantLakeFormation("spectrum", "consumer", this.spectrumRole.arn, "read", this.spectrumRole);

    this.namespace = new RedshiftserverlessNamespace(this, "namespace", {
      namespaceName: naming.name("warehouse"),
      dbName: WAREHOUSE_DATABASE,
      adminUsername: ADMIN_USERNAME,
      manageAdminPassword: true,
      adminPasswordSecretKmsKeyId: this.key.arn,
      kmsKeyId: this.key.arn,
      iamRoles: [this.spectrumRole.arn],
      defaultIamRoleArn: this.spectrumRole.arn,
      logExports: LOG_EXPORTS,
    });
    this.adminSecretArn = this.namespace.adminPasswordSecretArn;

    const securityGroup = network.redshiftSecurityGroup;
    if (!securityGroup)
      throw new ValidationError(
        "WAREHOUSE_NO_SECURITY_GROUP",
        "the warehouse needs the network's warehouse security group (Network prop warehouse: true)",
        this,
      );
    this.workgroup = new RedshiftserverlessWorkgroup(this, "workgroup", {
      workgroupName: naming.name("warehouse"),
      namespaceName: this.namespace.namespaceName,
      baseCapacity: props.baseCapacityRpu,
      maxCapacity: props.maxCapacityRpu,
      publiclyAccessible: false,
      enhancedVpcRouting: true, // COPY, UNLOAD and Spectrum traffic stays in the VPC (S3 gateway endpoint)
      subnetIds: network.subnetIds,
      securityGroupIds: [securityGroup.id],
      port: REDSHIFT_PORT,
      configParameter: [
        { parameterKey: "require_ssl", parameterValue: "true" },
        { parameterKey: "enable_user_activity_logging", parameterValue: "true" },
      ],
    });

    this.externalSchema = new RedshiftdataStatement(this, "external-schema", {
      workgroupName: this.workgroup.workgroupName,
      database: WAREHOUSE_DATABASE,
      secretArn: this.adminSecretArn,
      sql: externalSchemaSql(catalog.databases.consumer.name, this.spectrumRole.arn, region),
    });

    stackOutput(
      this,
      "redshift_workgroup_name",
      this.workgroup.workgroupName,
      "Redshift Serverless workgroup (reachable inside the VPC only)",
    );
    stackOutput(
      this,
      "redshift_namespace_name",
      this.namespace.namespaceName,
      "Redshift Serverless namespace holding the warehouse database",
    );
    stackOutput(
      this,
      "redshift_admin_secret_arn",
      this.adminSecretArn,
      "Secrets Manager secret with the warehouse admin password (managed by Redshift; nobody types it)",
    );
    stackOutput(
      this,
      "redshift_spectrum_role_arn",
      this.spectrumRole.arn,
      "IAM role Redshift Spectrum reads the consumer zone and its catalog entries with",
    );
  }
}

/** The external schema over a Glue database, read with `roleArn`. Idempotent, so re-running the statement is harmless. */
export function externalSchemaSql(database: string, roleArn: string, region: string): string {
  return `CREATE EXTERNAL SCHEMA IF NOT EXISTS ${EXTERNAL_SCHEMA} FROM DATA CATALOG DATABASE '${database}' IAM_ROLE '${roleArn}' REGION '${region}'`;
}
