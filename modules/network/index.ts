/**
 * The network the warehouse and Glue JDBC connections run in: either a private VPC of our own
 * (private subnets across AZs, no internet route, an S3 gateway endpoint and interface endpoints
 * for the AWS APIs the platform calls) or an existing VPC adopted from config, in which only the
 * platform's security groups are created. Security groups are scoped to the services that use
 * them: nothing is open to 0.0.0.0/0, and HTTPS egress goes to the endpoints and S3 only.
 */
import { DataAwsPrefixList } from "@cdktf/provider-aws/lib/data-aws-prefix-list";
import { DefaultSecurityGroup } from "@cdktf/provider-aws/lib/default-security-group";
import { FlowLog } from "@cdktf/provider-aws/lib/flow-log";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { VpcEndpoint } from "@cdktf/provider-aws/lib/vpc-endpoint";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Construct } from "constructs";
import { ValidationError } from "../shared/errors";
import type { Naming } from "../shared/naming";
import { stackOutput } from "../shared/outputs";
import { skipPolicyCheck } from "../shared/policy-checks";
import type { SecureBucket } from "../shared/secure-bucket";

/** AWS APIs reached through interface endpoints: what Glue jobs and the warehouse call from inside the VPC. */
export const INTERFACE_ENDPOINT_SERVICES = ["glue", "sts", "kms", "logs", "secretsmanager"] as const;
export type InterfaceEndpointService = (typeof INTERFACE_ENDPOINT_SERVICES)[number];

/** Where the network comes from (the environment's `network` section). */
export type NetworkPlacement =
  | {
      readonly mode: "create";
      /** VPC range; private subnet i gets the i-th /(n+4) slice. */
      readonly cidr: string;
      /** AZ letters appended to the region ("a" → "eu-west-1a"), one private subnet each. */
      readonly availabilityZones: readonly string[];
    }
  | {
      readonly mode: "adopt";
      readonly vpcId: string;
      /** The VPC's range, where its interface endpoints live. */
      readonly cidr: string;
      readonly subnets: readonly PrivateSubnet[];
      /**
       * Create the platform's VPC endpoints in the adopted VPC, with the S3 gateway on these route tables.
       * @default none: the VPC's owner provides the endpoints
       */
      readonly endpointRouteTableIds?: readonly string[];
    };

export interface PrivateSubnet {
  readonly id: string;
  readonly availabilityZone: string;
}

export interface NetworkProps {
  readonly naming: Naming;
  readonly accountId: string;
  readonly region: string;
  readonly placement: NetworkPlacement;
  /**
   * Where the created VPC's flow logs go.
   * Not used for an adopted VPC: its owner runs its flow logs.
   * @default no flow logs
   */
  readonly flowLogs?: { readonly bucket: SecureBucket };
  /**
   * Create the warehouse's security group (and its endpoint and S3 rules). Off where the
   * environment runs no warehouse: a group nothing uses is only a place for stray rules.
   * @default true
   */
  readonly warehouse?: boolean;
}

/** The port Redshift listens on. */
export const REDSHIFT_PORT = 5439;
const HTTPS = 443;

export class Network extends Construct {
  readonly vpcId: string;
  /** The VPC, when this module created it. */
  readonly vpc?: Vpc;
  /** Private subnets, one per AZ (Glue connections pick one; the warehouse uses all). */
  readonly privateSubnets: readonly PrivateSubnet[];
  readonly subnetIds: string[];
  /** For Glue JDBC connections: self-referencing (Glue workers talk to each other), HTTPS to the endpoints and S3. */
  readonly glueSecurityGroup: SecurityGroup;
  /** For the Redshift Serverless workgroup: HTTPS to the endpoints and S3 (Spectrum, COPY); no inbound by default. Absent without a warehouse. */
  readonly redshiftSecurityGroup?: SecurityGroup;
  /** On the interface endpoints: HTTPS in from the two groups above only. Absent when the VPC's owner provides endpoints. */
  readonly endpointSecurityGroup?: SecurityGroup;
  readonly s3Endpoint?: VpcEndpoint;
  /** Flow log of the created VPC (all traffic, accepted and rejected). */
  readonly flowLog?: FlowLog;
  readonly interfaceEndpoints: Readonly<Partial<Record<InterfaceEndpointService, VpcEndpoint>>>;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: NetworkProps,
  ) {
    super(scope, id);
    const { naming, region, placement } = props;

    let routeTableIds: readonly string[] | undefined;
    if (placement.mode === "create") {
      this.vpc = new Vpc(this, "vpc", {
        cidrBlock: placement.cidr,
        enableDnsSupport: true, // private DNS of interface endpoints needs both
        enableDnsHostnames: true,
        tags: { Name: naming.name("vpc") },
      });
      this.vpcId = this.vpc.id;
      // The default group allows all traffic between its members; nothing should use it, so it gets no rules.
      new DefaultSecurityGroup(this, "default-sg-locked", {
        vpcId: this.vpcId,
        tags: { Name: naming.name("default-unused") },
      });
      const routeTable = new RouteTable(this, "private-routes", {
        vpcId: this.vpcId,
        tags: { Name: naming.name("private") },
      });
      this.privateSubnets = placement.availabilityZones.map((letter, i) => {
        const availabilityZone = `${region}${letter}`;
        const subnet = new Subnet(this, `private-${letter}`, {
          vpcId: this.vpcId,
          availabilityZone,
          cidrBlock: subnetCidr(placement.cidr, 4, i),
          mapPublicIpOnLaunch: false,
          tags: { Name: naming.name("private", letter) },
        });
        new RouteTableAssociation(this, `private-${letter}-routes`, {
          subnetId: subnet.id,
          routeTableId: routeTable.id,
        });
        return { id: subnet.id, availabilityZone };
      });
      routeTableIds = [routeTable.id];
      if (props.flowLogs) this.flowLog = this.flowLogTo(props.flowLogs.bucket);
    } else {
      this.vpcId = placement.vpcId;
      this.privateSubnets = placement.subnets;
      routeTableIds = placement.endpointRouteTableIds;
    }
    this.subnetIds = this.privateSubnets.map((s) => s.id);

    this.glueSecurityGroup = this.securityGroup(
      "glue",
      "Glue connections: workers to each other, HTTPS to AWS endpoints and S3",
    );
    if (props.warehouse ?? true) {
      this.redshiftSecurityGroup = this.securityGroup(
        "redshift",
        "Redshift Serverless workgroup: HTTPS to AWS endpoints and S3",
      );
    }
    const platformGroups: [string, SecurityGroup][] = [["glue", this.glueSecurityGroup]];
    if (this.redshiftSecurityGroup) platformGroups.push(["redshift", this.redshiftSecurityGroup]);
    const selfIn = this.ingress(this.glueSecurityGroup, "glue-self-in", {
      ipProtocol: "tcp",
      fromPort: 0,
      toPort: 65535,
      referencedSecurityGroupId: this.glueSecurityGroup.id,
      description: "Glue workers exchange shuffle data",
    });
    // checkov reads a rule without cidr_ipv4 as open to the world: it does not know referenced_security_group_id.
    for (const [check, port] of [
      ["CKV_AWS_24", 22],
      ["CKV_AWS_25", 3389],
      ["CKV_AWS_260", 80],
    ] as const) {
      skipPolicyCheck(
        selfIn,
        check,
        `false positive: the rule admits only members of this Glue group (referenced_security_group_id, no CIDR at all), not 0.0.0.0/0 on port ${port}; Glue requires all TCP ports within the group`,
      );
    }
    this.egress(this.glueSecurityGroup, "glue-self-out", {
      ipProtocol: "tcp",
      fromPort: 0,
      toPort: 65535,
      referencedSecurityGroupId: this.glueSecurityGroup.id,
      description: "Glue workers exchange shuffle data",
    });

    const interfaceEndpoints: Partial<Record<InterfaceEndpointService, VpcEndpoint>> = {};
    let s3PrefixListId: string;
    if (routeTableIds !== undefined) {
      this.s3Endpoint = new VpcEndpoint(this, "s3", {
        vpcId: this.vpcId,
        serviceName: `com.amazonaws.${region}.s3`,
        vpcEndpointType: "Gateway",
        routeTableIds: [...routeTableIds],
        tags: { Name: naming.name("s3") },
      });
      s3PrefixListId = this.s3Endpoint.prefixListId;
      this.endpointSecurityGroup = this.securityGroup(
        "endpoints",
        "Interface endpoints: HTTPS from the platform's groups only",
      );
      for (const service of INTERFACE_ENDPOINT_SERVICES) {
        interfaceEndpoints[service] = new VpcEndpoint(this, service, {
          vpcId: this.vpcId,
          serviceName: `com.amazonaws.${region}.${service}`,
          vpcEndpointType: "Interface",
          privateDnsEnabled: true, // SDKs keep their default hostnames and resolve to the endpoint
          subnetIds: this.subnetIds,
          securityGroupIds: [this.endpointSecurityGroup.id],
          tags: { Name: naming.name(service) },
        });
      }
      for (const [name, group] of platformGroups) {
        this.ingress(this.endpointSecurityGroup, `endpoints-from-${name}`, {
          ipProtocol: "tcp",
          fromPort: HTTPS,
          toPort: HTTPS,
          referencedSecurityGroupId: group.id,
          description: `HTTPS from ${name}`,
        });
        this.egress(group, `${name}-to-endpoints`, {
          ipProtocol: "tcp",
          fromPort: HTTPS,
          toPort: HTTPS,
          referencedSecurityGroupId: this.endpointSecurityGroup.id,
          description: "HTTPS to the AWS API endpoints",
        });
      }
    } else {
      // The owner's endpoints live somewhere in the VPC range; S3 is reached through its gateway endpoint.
      s3PrefixListId = new DataAwsPrefixList(this, "s3-prefix-list", { name: `com.amazonaws.${region}.s3` }).id;
      for (const [name, group] of platformGroups) {
        this.egress(group, `${name}-to-endpoints`, {
          ipProtocol: "tcp",
          fromPort: HTTPS,
          toPort: HTTPS,
          cidrIpv4: placement.cidr,
          description: "HTTPS to the VPC's AWS API endpoints",
        });
      }
    }
    for (const [name, group] of platformGroups) {
      this.egress(group, `${name}-to-s3`, {
        ipProtocol: "tcp",
        fromPort: HTTPS,
        toPort: HTTPS,
        prefixListId: s3PrefixListId,
        description: "HTTPS to S3 through the gateway endpoint",
      });
    }
    this.interfaceEndpoints = interfaceEndpoints;

    stackOutput(
      this,
      "network_vpc_id",
      this.vpcId,
      "VPC the warehouse and the Glue connections run in (created here, or the adopted one)",
    );
    stackOutput(
      this,
      "network_private_subnet_ids",
      this.subnetIds,
      "Private subnets of the platform, one per availability zone",
    );
    stackOutput(
      this,
      "network_glue_security_group_id",
      this.glueSecurityGroup.id,
      "Security group of the Glue connections (allowGlueTo opens it to a database)",
    );
  }

  /** Lets Glue connections reach a database (e.g. the RDS source) on `port` in security group `securityGroupId`. */
  allowGlueTo(id: string, port: number, securityGroupId: string, description: string): void {
    this.egress(this.glueSecurityGroup, `glue-to-${id}`, {
      ipProtocol: "tcp",
      fromPort: port,
      toPort: port,
      referencedSecurityGroupId: securityGroupId,
      description,
    });
  }

  /**
   * Lets Glue connections reach a database by address range (a peered or on-premises network, where
   * its security group cannot be referenced) on `port`.
   */
  allowGlueToCidr(id: string, port: number, cidr: string, description: string): void {
    this.egress(this.glueSecurityGroup, `glue-to-${id}`, {
      ipProtocol: "tcp",
      fromPort: port,
      toPort: port,
      cidrIpv4: cidr,
      description,
    });
  }

  /** Lets clients in `securityGroupId` (a BI tool, a bastion) connect to the warehouse. */
  allowRedshiftFrom(id: string, securityGroupId: string, description: string): void {
    if (!this.redshiftSecurityGroup)
      throw new ValidationError(
        "NETWORK_NO_WAREHOUSE_SECURITY_GROUP",
        `allowRedshiftFrom("${id}") needs the warehouse security group (warehouse: true)`,
        this,
      );
    this.ingress(this.redshiftSecurityGroup, `redshift-from-${id}`, {
      ipProtocol: "tcp",
      fromPort: REDSHIFT_PORT,
      toPort: REDSHIFT_PORT,
      referencedSecurityGroupId: securityGroupId,
      description,
    });
  }

  /**
   * Flow logs of the VPC into `bucket` (AWS writes them under "AWSLogs/<account>/vpcflowlogs/"), with
   * the bucket-policy statements log delivery needs, pinned to our account. The destination is the
   * bucket itself: the emulator (moto 5.2.1) reads a destination with a prefix as a missing bucket.
   */
  private flowLogTo(bucket: SecureBucket): FlowLog {
    const { naming, accountId, region } = this.props;
    const conditions = {
      StringEquals: { "aws:SourceAccount": accountId },
      ArnLike: { "aws:SourceArn": naming.arn({ service: "logs", region, account: accountId, resource: "*" }) },
    };
    bucket.addToResourcePolicy({
      sid: "VpcFlowLogsWrite",
      principals: { Service: "delivery.logs.amazonaws.com" },
      actions: ["s3:PutObject"],
      resources: [bucket.objects(`AWSLogs/${accountId}/`)],
      conditions: {
        ...conditions,
        StringEquals: { ...conditions.StringEquals, "s3:x-amz-acl": "bucket-owner-full-control" },
      },
    });
    bucket.addToResourcePolicy({
      sid: "VpcFlowLogsAclCheck",
      principals: { Service: "delivery.logs.amazonaws.com" },
      actions: ["s3:GetBucketAcl", "s3:ListBucket"],
      resources: [bucket.arn],
      conditions,
    });
    return new FlowLog(this, "flow-log", {
      vpcId: this.vpcId,
      trafficType: "ALL",
      logDestinationType: "s3",
      logDestination: bucket.arn,
      maxAggregationInterval: 600,
      // Default (gzip text) format: the emulator does not return destination options, so Parquet would
      // show as a change on every plan of the local stack.
      tags: { Name: this.props.naming.name("vpc") },
    });
  }

  private securityGroup(name: string, description: string): SecurityGroup {
    // Rules are separate resources (one per rule); the group itself carries none, so Terraform drops AWS's allow-all egress.
    return new SecurityGroup(this, `${name}-sg`, {
      name: this.props.naming.name(name),
      description,
      vpcId: this.vpcId,
      tags: { Name: this.props.naming.name(name) },
    });
  }

  private ingress(
    group: SecurityGroup,
    id: string,
    rule: Omit<ConstructorParameters<typeof VpcSecurityGroupIngressRule>[2], "securityGroupId">,
  ): VpcSecurityGroupIngressRule {
    return new VpcSecurityGroupIngressRule(this, id, { securityGroupId: group.id, ...rule });
  }

  private egress(
    group: SecurityGroup,
    id: string,
    rule: Omit<ConstructorParameters<typeof VpcSecurityGroupEgressRule>[2], "securityGroupId">,
  ): void {
    new VpcSecurityGroupEgressRule(this, id, { securityGroupId: group.id, ...rule });
  }
}

/** The `index`-th subnet of `cidr` with `newBits` more prefix bits (what Terraform's cidrsubnet does). */
export function subnetCidr(cidr: string, newBits: number, index: number): string {
  const [ip, bits] = cidr.split("/");
  const prefix = Number(bits) + newBits;
  if (prefix > 28)
    throw new Error(`subnet of ${cidr} with ${newBits} more bits is /${prefix}; AWS subnets are at most /28`);
  if (index >= 2 ** newBits)
    throw new Error(`${cidr} has room for ${2 ** newBits} /${prefix} subnets (asked for #${index + 1})`);
  const base = ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
  const value = base + index * 2 ** (32 - prefix);
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256);
  return `${octets.join(".")}/${prefix}`;
}
