import { localEmulatorEndpoint } from "../../environments/local";
import { EMULATED_SERVICES } from "../../modules/shared/provider";
import { synthAll, synthNamed } from "../helpers/synth";

describe("remote state", () => {
  it.each(["dev", "staging", "prod"])("%s: S3 backend, encrypted, locked, one key per environment", (name) => {
    const { config, json } = synthNamed(name);
    expect(json.terraform.backend).toEqual({
      s3: {
        bucket: `dataplat-tfstate-${config.accountId}`,
        key: `dataplat/${name}/terraform.tfstate`,
        region: "eu-west-1",
        encrypt: true,
        use_lockfile: true,
        allowed_account_ids: [config.accountId],
      },
    });
  });

  it("local: a local backend", () => {
    expect(synthNamed("local").json.terraform.backend).toEqual({ local: { path: "terraform.local.tfstate" } });
  });
});

describe("provider", () => {
  it.each(synthAll().map((e) => [e.config.name, e] as const))(
    "%s: region, the one allowed account, pinned provider",
    (_n, { config, json }) => {
      const aws = json.provider.aws[0];
      expect(aws.region).toBe(config.region);
      expect(aws.allowed_account_ids).toEqual([config.accountId]);
      expect(json.terraform.required_providers.aws).toEqual({ source: "aws", version: "5.100.0" });
    },
  );

  it("non-local environments talk to real AWS endpoints", () => {
    for (const name of ["dev", "staging", "prod"])
      expect(synthNamed(name).json.provider.aws[0].endpoints).toBeUndefined();
  });

  it("local points every service the platform uses at the emulator variable, with no credentials in the output", () => {
    const { json } = synthNamed("local");
    const aws = json.provider.aws[0];
    expect(Object.keys(aws.endpoints[0]).sort()).toEqual(
      EMULATED_SERVICES.map((s) => (s === "s3Control" ? "s3control" : s)).sort(),
    );
    for (const url of Object.values(aws.endpoints[0])) expect(url).toBe("${var.emulator_endpoint}");
    expect(json.variable?.emulator_endpoint).toMatchObject({ type: "string", nullable: false });
    expect(aws.access_key).toBeUndefined();
    expect(aws.secret_key).toBeUndefined();
    expect(aws.s3_use_path_style).toBe(true);
  });

  it("local's endpoint defaults to the local cloud's stable port (DATAPLAT_LOCAL_EMULATOR_PORT, else 4566), so cdktf deploy local needs no variable", () => {
    expect(localEmulatorEndpoint({})).toBe("https://127.0.0.1:4566");
    expect(localEmulatorEndpoint({ DATAPLAT_LOCAL_EMULATOR_PORT: "45123" })).toBe("https://127.0.0.1:45123");
    expect(() => localEmulatorEndpoint({ DATAPLAT_LOCAL_EMULATOR_PORT: "http" })).toThrow(
      /local: emulator endpoint: DATAPLAT_LOCAL_EMULATOR_PORT must be a TCP port from 1 to 65535 \(got "http"\)/,
    );
    expect(synthNamed("local").json.variable?.emulator_endpoint.default).toBe(localEmulatorEndpoint());
  });
});
