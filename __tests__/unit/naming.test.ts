import { Naming } from "../../modules/shared/naming";

const naming = new Naming({
  project: "dataplat",
  environment: "staging",
  accountId: "222222222222",
  region: "ap-southeast-2",
});

it("builds every kind of name from one prefix", () => {
  expect(naming.prefix).toBe("dataplat-staging");
  expect(naming.name("api", "ingest")).toBe("dataplat-staging-api-ingest");
  expect(naming.bucket("processed")).toBe("dataplat-staging-processed-222222222222-ap-southeast-2");
  expect(naming.glue("raw")).toBe("dataplat_staging_raw");
  expect(naming.kmsAlias("lake-raw")).toBe("alias/dataplat-staging-lake-raw");
});

it("fits the longest environment and zone names into S3's 63-character bucket limit", () => {
  const longest = new Naming({
    project: "abcdefghijkl",
    environment: "abcdefghij",
    accountId: "222222222222",
    region: "ap-southeast-2",
  });
  expect(longest.bucket("quarantine").length).toBeLessThanOrEqual(63);
});

it("fails at synth, naming the limit, when a name is too long", () => {
  expect(() => naming.bucket("a-very-long-purpose-name")).toThrow(
    'S3 bucket name "dataplat-staging-a-very-long-purpose-name-222222222222-ap-southeast-2" is 69 characters; AWS allows 63.',
  );
  expect(() => naming.name("x".repeat(60))).toThrow(/resource name .* AWS allows 64/);
});
