import { INTERFACE_ENDPOINT_SERVICES, subnetCidr } from "../../modules/network";
import { jdbcPort } from "../../modules/ingestion";
import { byPath, parsePolicy, refOf, resources, synthAll, synthNamed, TerraformJson } from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

const sgRef = (json: TerraformJson, name: string) =>
  `${refOf(byPath(json, "aws_security_group", `network/${name}-sg`))}.id}`;
const rulesOf = (json: TerraformJson, type: string, group: string) =>
  resources(json, type)
    .filter((r) => r.body.security_group_id === sgRef(json, group))
    .map((r) => r.body);

describe.each(synthAll().map((e) => [e.config.name, e] as const))("%s: security groups", (_env, { config, json }) => {
  it("open nothing to the internet: no 0.0.0.0/0, no IPv6 anywhere, no inline rules", () => {
    for (const type of ["aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"]) {
      for (const rule of resources(json, type)) {
        expect(rule.body.cidr_ipv4).not.toBe("0.0.0.0/0");
        expect(rule.body.cidr_ipv6).toBeUndefined();
        expect(rule.body.ip_protocol).toBe("tcp");
      }
    }
    for (const group of resources(json, "aws_security_group")) {
      expect(group.body.ingress).toBeUndefined();
      expect(group.body.egress).toBeUndefined();
    }
  });

  it(
    config.redshift.enabled
      ? "the warehouse accepts no connections by default and only speaks HTTPS, to AWS endpoints and S3"
      : "without a warehouse there is no warehouse security group",
    () => {
      if (!config.redshift.enabled) {
        expect(resources(json, "aws_security_group").map((g) => g.body.name)).not.toContain(
          `dataplat-${config.name}-redshift`,
        );
        return;
      }
      expect(rulesOf(json, "aws_vpc_security_group_ingress_rule", "redshift")).toEqual([]);
      const egress = rulesOf(json, "aws_vpc_security_group_egress_rule", "redshift");
      expect(egress.map((r) => [r.from_port, r.to_port])).toEqual([
        [443, 443],
        [443, 443],
      ]);
      expect(egress.some((r) => r.prefix_list_id)).toBe(true);
    },
  );

  it("Glue connections: workers reach each other (self-reference), HTTPS to AWS endpoints and S3, and the RDS source's port in its range, nothing else", () => {
    const self = sgRef(json, "glue");
    expect(rulesOf(json, "aws_vpc_security_group_ingress_rule", "glue")).toEqual([
      expect.objectContaining({ referenced_security_group_id: self, from_port: 0, to_port: 65535 }),
    ]);
    const egress = rulesOf(json, "aws_vpc_security_group_egress_rule", "glue");
    expect(egress.filter((r) => r.referenced_security_group_id === self)).toHaveLength(1);
    const others = egress.filter((r) => r.referenced_security_group_id !== self);
    expect(others.filter((r) => r.from_port === 443)).toHaveLength(2);
    const database = others.filter((r) => r.from_port !== 443);
    // The JDBC URL's port (local's comes from DATAPLAT_LOCAL_RDS_PORT when set; 5432 otherwise).
    const port = jdbcPort(config.ingestion.rds.jdbcUrl);
    expect(database.map((r) => [r.from_port, r.to_port, r.cidr_ipv4])).toEqual([
      [port, port, config.ingestion.rds.databaseCidr],
    ]);
  });
});

describe.each(
  synthAll()
    .filter((e) => e.config.network.mode === "create")
    .map((e) => [e.config.name, e] as const),
)("%s: a private VPC of its own", (_env, { config, json }) => {
  if (config.network.mode !== "create") throw new Error("unreachable");
  const network = config.network;

  it("has one private subnet per configured AZ, each a /20 slice of the VPC range", () => {
    expect(byPath(json, "aws_vpc", "network/vpc").body).toMatchObject({
      cidr_block: network.cidr,
      enable_dns_support: true,
      enable_dns_hostnames: true,
    });
    const subnets = network.availabilityZones.map((az) => byPath(json, "aws_subnet", `network/private-${az}`).body);
    expect(subnets.map((s) => [s.availability_zone, s.cidr_block, s.map_public_ip_on_launch])).toEqual(
      network.availabilityZones.map((az, i) => [`${config.region}${az}`, subnetCidr(network.cidr, 4, i), false]),
    );
    expect(resources(json, "aws_subnet")).toHaveLength(network.availabilityZones.length);
  });

  it("has no route to the internet: no internet or NAT gateway, no routes besides the local one", () => {
    for (const type of [
      "aws_internet_gateway",
      "aws_nat_gateway",
      "aws_egress_only_internet_gateway",
      "aws_route",
      "aws_eip",
    ])
      expect(resources(json, type)).toEqual([]);
    expect(byPath(json, "aws_route_table", "network/private-routes").body.route).toBeUndefined();
  });

  it("reaches S3 through a gateway endpoint and Glue, STS, KMS, Logs and Secrets Manager through private interface endpoints", () => {
    const routeTable = `${refOf(byPath(json, "aws_route_table", "network/private-routes"))}.id}`;
    expect(byPath(json, "aws_vpc_endpoint", "network/s3").body).toMatchObject({
      service_name: `com.amazonaws.${config.region}.s3`,
      vpc_endpoint_type: "Gateway",
      route_table_ids: [routeTable],
    });
    const subnetIds = network.availabilityZones.map(
      (az) => `${refOf(byPath(json, "aws_subnet", `network/private-${az}`))}.id}`,
    );
    const interfaces = resources(json, "aws_vpc_endpoint").filter((e) => e.body.vpc_endpoint_type === "Interface");
    expect(interfaces.map((e) => e.body.service_name).sort()).toEqual(
      ["glue", "kms", "logs", "secretsmanager", "sts"].map((s) => `com.amazonaws.${config.region}.${s}`),
    );
    for (const e of interfaces) {
      expect(e.body).toMatchObject({
        private_dns_enabled: true,
        subnet_ids: subnetIds,
        security_group_ids: [sgRef(json, "endpoints")],
      });
    }
    expect([...INTERFACE_ENDPOINT_SERVICES].sort()).toEqual(["glue", "kms", "logs", "secretsmanager", "sts"]);
  });

  it("endpoints accept HTTPS only from the Glue and (where there is one) warehouse groups", () => {
    const ingress = rulesOf(json, "aws_vpc_security_group_ingress_rule", "endpoints");
    expect(ingress.map((r) => [r.referenced_security_group_id, r.from_port, r.to_port])).toEqual([
      [sgRef(json, "glue"), 443, 443],
      ...(config.redshift.enabled ? [[sgRef(json, "redshift"), 443, 443]] : []),
    ]);
    expect(rulesOf(json, "aws_vpc_security_group_egress_rule", "endpoints")).toEqual([]);
  });

  it("writes flow logs of all traffic to the access-log bucket, which accepts them from this account only", () => {
    const logBucket = refOf(byPath(json, "aws_s3_bucket", "lake/access-logs/bucket"));
    expect(byPath(json, "aws_flow_log", "network/flow-log").body).toMatchObject({
      vpc_id: `${refOf(byPath(json, "aws_vpc", "network/vpc"))}.id}`,
      traffic_type: "ALL",
      log_destination_type: "s3",
      log_destination: `${logBucket}.arn}`,
    });
    const policy = defined(
      resources(json, "aws_s3_bucket_policy").find((p) => p.body.bucket === `${logBucket}.id}`),
      "the access-logs bucket's policy",
    );
    const delivery = parsePolicy(policy.body.policy).Statement.filter(
      (s) => s.Principal?.Service === "delivery.logs.amazonaws.com",
    );
    expect(delivery.map((s) => s.Resource)).toEqual([
      `${logBucket}.arn}/AWSLogs/${config.accountId}/*`,
      `${logBucket}.arn}`,
    ]);
    for (const s of delivery) expect(s.Condition.StringEquals["aws:SourceAccount"]).toBe(config.accountId);
  });

  it("locks the VPC's default security group (no rules)", () => {
    const locked = resources(json, "aws_default_security_group");
    expect(locked).toHaveLength(1);
    expect(locked[0].body.ingress).toBeUndefined();
    expect(locked[0].body.egress).toBeUndefined();
  });
});

describe("staging adopts the shared VPC", () => {
  const { config, json } = synthNamed("staging");
  if (config.network.mode !== "adopt") throw new Error("staging is expected to adopt a VPC");
  const network = config.network;

  it("creates no VPC, subnets or endpoints (the VPC's owner provides them), only its security groups in that VPC", () => {
    for (const type of [
      "aws_vpc",
      "aws_subnet",
      "aws_route_table",
      "aws_vpc_endpoint",
      "aws_default_security_group",
      "aws_flow_log",
    ])
      expect(resources(json, type)).toEqual([]);
    expect(resources(json, "aws_security_group").map((g) => [g.body.name, g.body.vpc_id])).toEqual([
      ["dataplat-staging-glue", network.vpcId],
      ["dataplat-staging-redshift", network.vpcId],
    ]);
  });

  it("sends HTTPS to the VPC's range (its endpoints) and to S3's prefix list", () => {
    const egress = rulesOf(json, "aws_vpc_security_group_egress_rule", "redshift");
    expect(egress.map((r) => r.cidr_ipv4 ?? r.prefix_list_id)).toEqual([
      network.cidr,
      `\${data.aws_prefix_list.${Object.keys(defined(json.data, "the stack's data sources").aws_prefix_list)[0]}.id}`,
    ]);
    expect(Object.values(defined(json.data, "the stack's data sources").aws_prefix_list)[0]).toMatchObject({
      name: `com.amazonaws.${config.region}.s3`,
    });
  });

  it("exposes the configured subnets", () => {
    expect(defined(json.output, "the stack outputs").network_private_subnet_ids.value).toEqual(
      network.subnets.map((s) => s.id),
    );
    expect(defined(json.output, "the stack outputs").network_vpc_id.value).toBe(network.vpcId);
  });
});

describe("subnetCidr", () => {
  it("slices a range like Terraform's cidrsubnet", () => {
    expect([0, 1, 2].map((i) => subnetCidr("10.30.0.0/16", 4, i))).toEqual([
      "10.30.0.0/20",
      "10.30.16.0/20",
      "10.30.32.0/20",
    ]);
    expect(subnetCidr("192.168.4.0/24", 4, 15)).toBe("192.168.4.240/28");
  });

  it("refuses slices AWS cannot create or that do not fit", () => {
    expect(() => subnetCidr("10.0.0.0/26", 4, 0)).toThrow(
      "subnet of 10.0.0.0/26 with 4 more bits is /30; AWS subnets are at most /28",
    );
    expect(() => subnetCidr("10.0.0.0/16", 1, 2)).toThrow("10.0.0.0/16 has room for 2 /17 subnets (asked for #3)");
  });
});
