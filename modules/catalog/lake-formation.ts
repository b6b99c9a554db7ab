/**
 * Lake Formation for one environment: data-lake settings (admins, no IAM-only defaults for new
 * databases and tables), registration of the zones that hold tables, and per-zone grants.
 * Consumers get the consumer zone and nothing else; other modules grant their roles through
 * `grantZone`, which is a no-op where the environment has not opted in (the catalog has no
 * LakeFormation then), so callers never branch on it.
 */
import type { GlueCatalogDatabase } from "@cdktf/provider-aws/lib/glue-catalog-database";
import { LakeformationDataLakeSettings } from "@cdktf/provider-aws/lib/lakeformation-data-lake-settings";
import { LakeformationPermissions } from "@cdktf/provider-aws/lib/lakeformation-permissions";
import { LakeformationResource } from "@cdktf/provider-aws/lib/lakeformation-resource";
import { Construct } from "constructs";
import type { Zone } from "../../datasets";
import type { LakeFormationConfig } from "../../environments";
import type { Lake } from "../lake";
import { IGrantable, ServiceRole } from "../shared/iam";
import type { Naming } from "../shared/naming";

/** Zones registered with Lake Formation: the ones that carry tables. Quarantine stays IAM-only. */
export const REGISTERED_ZONES = ["raw", "processed", "consumer"] as const;
export type RegisteredZone = (typeof REGISTERED_ZONES)[number];

export type LakeFormationAccess = "read" | "write";

/** Lake Formation permissions per access level, on a zone's database and on all its tables. */
export const ZONE_PERMISSIONS: Readonly<
  Record<LakeFormationAccess, { database: readonly string[]; tables: readonly string[] }>
> = {
  read: { database: ["DESCRIBE"], tables: ["SELECT", "DESCRIBE"] },
  write: {
    database: ["DESCRIBE", "CREATE_TABLE", "ALTER"],
    tables: ["SELECT", "DESCRIBE", "INSERT", "DELETE", "ALTER"],
  },
};

/** Who administers the lake and who reads its consumer zone (the environment's `lakeFormation`, documented in environments/schema.ts). */
export type LakeFormationProps = Readonly<Pick<LakeFormationConfig, "admins" | "consumers">>;

export interface LakeFormationConstructProps extends LakeFormationProps {
  readonly naming: Naming;
  readonly accountId: string;
  readonly lake: Lake;
  /** The catalog's database per zone: the grants name them. */
  readonly databases: Readonly<Record<Zone, GlueCatalogDatabase>>;
}

export class LakeFormation extends Construct {
  readonly settings: LakeformationDataLakeSettings;
  /** The role Lake Formation uses to read registered locations (the service-linked role cannot use our zone keys). */
  readonly registrationRole: ServiceRole;
  readonly registrations: Readonly<Record<RegisteredZone, LakeformationResource>>;
  /** Every grant made, by construct id. */
  readonly grants: LakeformationPermissions[] = [];

  constructor(
    scope: Construct,
    id: string,
    private readonly props: LakeFormationConstructProps,
  ) {
    super(scope, id);
    const { naming, accountId, lake } = props;
    this.settings = new LakeformationDataLakeSettings(this, "settings", {
      catalogId: accountId,
      admins: [...props.admins],
      // No create_*_default_permissions: new databases and tables get no IAMAllowedPrincipals grant,
      // so Lake Formation, not IAM alone, decides who reads them.
    });
    this.registrationRole = new ServiceRole(this, "registration-role", {
      naming,
      name: "lakeformation-access",
      service: "lakeformation.amazonaws.com",
      accountId,
      // Lake Formation's documented registration-role trust has no source conditions; a condition it does
      // not send would make every registered location unreadable. Registering needs iam:PassRole in this account.
      confusedDeputyConditions: false,
      description: "Lake Formation reads registered lake zones on behalf of granted principals",
    });
    const registrations = {} as Record<RegisteredZone, LakeformationResource>;
    for (const zone of REGISTERED_ZONES) {
      lake.grantRead(zone, this.registrationRole);
      registrations[zone] = new LakeformationResource(this, `${zone}-location`, {
        arn: lake.zones[zone].bucket.arn,
        roleArn: this.registrationRole.arn,
        dependsOn: [this.settings],
      });
    }
    this.registrations = registrations;
  }

  /** The IAM side of Lake Formation access: asking it for temporary credentials to registered locations. */
  grantDataAccess(grantee: IGrantable): void {
    grantee.addToPolicy({
      sid: "LakeFormationDataAccess",
      actions: ["lakeformation:GetDataAccess"],
      resources: ["*"],
      wildcardResourceReason:
        "lakeformation:GetDataAccess supports no resource-level permissions; Lake Formation grants scope it",
    });
  }

  /**
   * Grants `principal` read or write access to one zone's database and all its tables. Write also
   * grants data-location access (creating tables that point into the zone).
   */
  grantZone(id: string, zone: Zone, principal: string, access: LakeFormationAccess): void {
    const database = this.props.databases[zone].name;
    const permissions = ZONE_PERMISSIONS[access];
    const dependsOn = [this.settings];
    this.grants.push(
      new LakeformationPermissions(this, `${id}-${zone}-database`, {
        principal,
        permissions: [...permissions.database],
        database: { name: database },
        dependsOn,
      }),
      new LakeformationPermissions(this, `${id}-${zone}-tables`, {
        principal,
        permissions: [...permissions.tables],
        table: { databaseName: database, wildcard: true },
        dependsOn,
      }),
    );
    if (access === "write" && (REGISTERED_ZONES as readonly Zone[]).includes(zone)) {
      this.grants.push(
        new LakeformationPermissions(this, `${id}-${zone}-location`, {
          principal,
          permissions: ["DATA_LOCATION_ACCESS"],
          dataLocation: { arn: this.props.lake.zones[zone].bucket.arn },
          dependsOn: [this.registrations[zone as RegisteredZone]],
        }),
      );
    }
  }
}
