import { RESERVED_TAG_KEYS } from "../../environments/schema";
import { resources, synthAll } from "../helpers/synth";

/** Resource types we know accept tags; the integration suite checks completeness against the provider schema. */
const KNOWN_TAGGABLE = ["aws_s3_bucket", "aws_kms_key"];

describe.each(synthAll().map((e) => [e.config.name, e] as const))("%s", (_env, { config, json }) => {
  const required = {
    environment: config.name,
    project: config.project,
    owner: config.owner,
    "cost-centre": config.costCentre,
    "managed-by": "cdktf",
  };

  it("the required tags cover every reserved key", () => {
    expect(Object.keys(required).sort()).toEqual([...RESERVED_TAG_KEYS].sort());
  });

  it("every resource that carries tags carries all required tags", () => {
    const tagged = resources(json).filter((r) => r.body.tags !== undefined);
    expect(tagged.length).toBeGreaterThan(0);
    for (const r of tagged)
      expect({ resource: `${r.type}.${r.name}`, tags: r.body.tags }).toEqual({
        resource: `${r.type}.${r.name}`,
        tags: expect.objectContaining(required),
      });
  });

  it("known taggable resources are tagged", () => {
    for (const r of resources(json).filter((x) => KNOWN_TAGGABLE.includes(x.type)))
      expect(r.body.tags).toMatchObject(required);
  });

  it("the provider applies the same tags as defaults", () => {
    expect(json.provider.aws[0].default_tags).toEqual([{ tags: expect.objectContaining(required) }]);
  });
});
