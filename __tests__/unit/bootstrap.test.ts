import { Testing } from "cdktf";
import { loadEnvironment } from "../../environments";
import { StateBootstrapStack } from "../../modules/bootstrap";
import { attachedTo, parsePolicy, resources, TerraformJson } from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

function synthBootstrap(name: string): TerraformJson {
  return JSON.parse(Testing.synth(new StateBootstrapStack(Testing.app(), loadEnvironment(name))));
}

describe.each(["dev", "staging", "prod"])("%s state bootstrap", (name) => {
  const config = loadEnvironment(name);
  const json = synthBootstrap(name);
  const state = defined(
    resources(json, "aws_s3_bucket").find((b) => b.body.bucket === (config.state as { bucket: string }).bucket),
    "the state bucket",
  );
  const ref = `aws_s3_bucket.${state.name}`;

  it("creates exactly the bucket the environment's backend names, protected and versioned", () => {
    expect(state).toBeDefined();
    expect(state.body.lifecycle).toEqual({ prevent_destroy: true });
    expect(state.body.force_destroy).toBe(false);
    expect(attachedTo(json, "aws_s3_bucket_versioning", ref)[0].body.versioning_configuration.status).toBe("Enabled");
  });

  it("encrypts state with its own rotated key and allows TLS only", () => {
    const sse = attachedTo(json, "aws_s3_bucket_server_side_encryption_configuration", ref)[0].body.rule[0];
    expect(sse.apply_server_side_encryption_by_default.sse_algorithm).toBe("aws:kms");
    expect(resources(json, "aws_kms_key").every((k) => k.body.enable_key_rotation === true)).toBe(true);
    const policy = parsePolicy(attachedTo(json, "aws_s3_bucket_policy", ref)[0].body.policy);
    expect(policy.Statement.map((s) => s.Sid)).toContain("DenyInsecureTransport");
  });

  it("keeps its own state locally and is pinned to the environment's account and state region", () => {
    expect(json.terraform.backend).toEqual({ local: { path: `${name}-state.tfstate` } });
    expect(json.provider.aws[0]).toMatchObject({
      region: (config.state as { region: string }).region,
      allowed_account_ids: [config.accountId],
    });
  });
});

it("refuses an environment that keeps local state", () => {
  expect(() => synthBootstrap("local")).toThrow(
    'local: state.backend is "local"; only S3 backends need a state bucket',
  );
});
