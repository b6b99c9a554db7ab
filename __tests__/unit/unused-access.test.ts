/**
 * The unused-access page is generated from the stacks and the committed snapshot of the last
 * end-to-end run's exercised grants; it must be current, and every grant the run did not use must
 * say why it is kept. (main-job.test.ts compares a fresh run with the snapshot.)
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadEnvironments } from "../../environments";
import { ROOT } from "../../scripts/lib/terraform";
import {
  EXERCISED_SNAPSHOT,
  UNUSED_ACCESS_PAGE,
  renderUnusedAccess,
  rolesByEnvironment,
  snapshotOf,
  unusedAccess,
  type RoleGrants,
} from "../../scripts/lib/unused-access";

const { local, others } = rolesByEnvironment(loadEnvironments());
const snapshot = JSON.parse(readFileSync(join(ROOT, EXERCISED_SNAPSHOT), "utf8"));
const report = unusedAccess(local, others, snapshot);

it("has no unused grant without a kept reason, no snapshot entry without a grant, no absent role without a reason", () => {
  expect(report.problems).toEqual([]);
});

it("is the committed page (npm run docs:unused-access regenerates it)", () => {
  expect(readFileSync(join(ROOT, UNUSED_ACCESS_PAGE), "utf8")).toBe(renderUnusedAccess(report));
});

it("covers every local role, and the run exercised at least one grant of each", () => {
  expect(new Set(report.rows.map((r) => r.role))).toEqual(new Set(local.roles.keys()));
  const idle = [...local.roles.keys()].filter((role) => !report.rows.some((r) => r.role === role && r.count > 0));
  expect(idle).toEqual([]);
});

it("lists the roles only the cloud environments create, each with the reason local lacks it", () => {
  const whole = report.absent.filter((a) => !a.sid);
  expect(whole.length).toBeGreaterThan(0);
  for (const a of whole) expect({ role: a.role, reason: typeof a.reason }).toEqual({ role: a.role, reason: "string" });
});

describe("judging a run", () => {
  const role = (grants: RoleGrants["grants"]): RoleGrants => ({
    component: "job",
    physicalName: "dataplat-local-job",
    service: "glue.amazonaws.com",
    grants,
  });
  const read = { sid: "RawRead", actions: ["s3:GetObject"], resources: ["arn:aws:s3:::b/*"] };

  it("reports an unused grant that has no reason, and accepts it once it has one", () => {
    const bare = unusedAccess({ config: local.config, roles: new Map([["job", role([read])]]) }, [], {});
    expect(bare.problems).toEqual(["job: s3:GetObject (RawRead) was never exercised and has no kept reason"]);
    const kept = unusedAccess(
      {
        config: local.config,
        roles: new Map([["job", role([{ ...read, keptBecause: { reason: "used only on backfill" } }])]]),
      },
      [],
      {},
    );
    expect(kept.problems).toEqual([]);
    expect(kept.rows).toEqual([
      { role: "job", sid: "RawRead", action: "s3:GetObject", count: 0, kept: { reason: "used only on backfill" } },
    ]);
  });

  it("reports a snapshot entry no grant has, and a cloud-only role whose feature is not known to be off", () => {
    const withExtra = unusedAccess(
      { config: local.config, roles: new Map([["job", role([read])]]) },
      [
        {
          name: "dev",
          roles: new Map([["other", { ...role([read]), component: "other", service: "lambda.amazonaws.com" }]]),
        },
      ],
      {
        job: { "s3:GetObject RawRead": 2, "s3:PutObject RawWrite": 1 },
      },
    );
    expect(withExtra.problems).toEqual([
      'job: the snapshot holds "s3:PutObject RawWrite", which no local grant has: refresh it',
      "other: exists in dev but not in local, with no reason",
    ]);
  });

  it("keys the decision log by component and sid, identity grants only", () => {
    const roles = new Map([["job", role([read])]]);
    const exercised = {
      "arn:aws:iam::123456789012:role/dataplat-local-job": {
        "s3:GetObject dataplat-local-job:least-privilege/RawRead": 3,
        "s3:GetObject resource policy/AllowJob": 3,
        "sts:AssumeRole trust/TrustOneService": 1,
      },
      "arn:aws:iam::123456789012:role/dataplat-local-unknown": {
        "s3:GetObject dataplat-local-unknown:least-privilege/RawRead": 1,
      },
    };
    expect(snapshotOf(exercised, roles)).toEqual({ job: { "s3:GetObject RawRead": 3 } });
  });
});
