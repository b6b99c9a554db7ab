/**
 * `npm run pipeline:rerun`: what it accepts and refuses, and what it asks Step Functions for.
 * Reruns and the redrive of a caught failure are proven against the emulator (pipeline-emulator.test.ts);
 * here each branch of --redrive is checked against a mocked client.
 */
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { DATASETS } from "../../datasets";
import { loadEnvironment } from "../../environments";
import { STEPS } from "../../modules/orchestration";
import {
  parseRerunArgs,
  redriveRerunName,
  rerun,
  rerunExecutionName,
  stateMachineArn,
  UsageError,
} from "../../scripts/pipeline-rerun";

const sfn = mockClient(SFNClient);
beforeEach(() => sfn.reset());
const dataset = DATASETS[0].name;
const base = ["--env", "prod", "--dataset", dataset];

describe("pipeline:rerun arguments", () => {
  it("a day range, or --all, or a redrive", () => {
    expect(parseRerunArgs([...base, "--from", "2024-05-01", "--to", "2024-05-31"])).toEqual({
      env: "prod",
      dataset,
      kind: "range",
      from: "2024-05-01",
      to: "2024-05-31",
    });
    expect(parseRerunArgs([...base, "--from", "2024-02-29", "--to", "2024-02-29"])).toMatchObject({ kind: "range" });
    expect(parseRerunArgs([...base, "--all"])).toEqual({ env: "prod", dataset, kind: "all" });
    expect(parseRerunArgs([...base, "--redrive", "arn:x"])).toEqual({
      env: "prod",
      dataset,
      kind: "redrive",
      executionArn: "arn:x",
    });
    // A redrive needs only the execution: its ARN names the environment's state machine.
    expect(parseRerunArgs(["--redrive", "arn:x"])).toEqual({ kind: "redrive", executionArn: "arn:x" });
  });

  it.each([
    [[], "nothing to do"],
    [["--from", "2024-05-01"], "a day range needs both --from and --to"],
    [["--from", "2023-02-29", "--to", "2023-03-01"], '--from must be a day written YYYY-MM-DD (got "2023-02-29")'],
    [["--from", "2024-5-1", "--to", "2024-05-02"], '--from must be a day written YYYY-MM-DD (got "2024-5-1")'],
    [["--from", "2024-05-02", "--to", "2024-05-01"], "--from (2024-05-02) is after --to (2024-05-01)"],
    [["--all", "--redrive", "arn:x"], "give only one of"],
    [["--all", "--all"], "--all is given twice"],
    [["--from"], "--from needs a value"],
    [["--since", "2024-05-01"], "unknown option --since"],
  ])("refuses %j: %s", (extra, message) => {
    expect(() => parseRerunArgs([...base, ...extra])).toThrow(UsageError);
    expect(() => parseRerunArgs([...base, ...extra])).toThrow(message);
  });

  it("needs the environment and the dataset", () => {
    expect(() => parseRerunArgs(["--dataset", dataset, "--all"])).toThrow("--env is required");
    expect(() => parseRerunArgs(["--env", "prod", "--all"])).toThrow("--dataset is required");
  });

  it("names executions for what they do, within Step Functions' 80 characters and character set", () => {
    const now = new Date("2026-12-01T20:37:05.123Z");
    const range = rerunExecutionName(
      { env: "prod", dataset, kind: "range", from: "2024-05-01", to: "2024-05-31" },
      now,
    );
    expect(range).toBe("rerun-2024-05-01-to-2024-05-31-20261201T203705Z");
    expect(rerunExecutionName({ env: "prod", dataset, kind: "all" }, now)).toBe("rerun-all-20261201T203705Z");
    expect(range.length).toBeLessThanOrEqual(80);
    expect(range).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});

describe("pipeline:rerun against Step Functions", () => {
  const machine = stateMachineArn(loadEnvironment("prod"), dataset);

  it("targets the state machine the stack deploys for the dataset", () => {
    expect(machine).toBe(`arn:aws:states:eu-west-1:333333333333:stateMachine:dataplat-prod-${dataset}-pipeline`);
  });

  const executionArn = `${machine.replace(":stateMachine:", ":execution:")}:abc-123`;
  const stoppedIn = (state: string, input = "{}") => ({
    events: [
      {
        id: 9,
        timestamp: new Date(),
        type: "TaskStateEntered" as const,
        stateEnteredEventDetails: { name: state, input },
      },
    ],
  });

  it("redrives an execution that stopped inside a step (timed out, aborted): it continues there", async () => {
    sfn.on(DescribeStateMachineCommand).resolves({});
    sfn.on(DescribeExecutionCommand).resolves({ status: "TIMED_OUT", name: "abc-123", input: "{}" });
    sfn.on(GetExecutionHistoryCommand).resolves(stoppedIn(STEPS.rawToProcessed));
    sfn.on(RedriveExecutionCommand).resolves({ redriveDate: new Date() });
    // No --env/--dataset: the ARN names prod's pipeline of the dataset.
    const result = await rerun({ kind: "redrive", executionArn }, new SFNClient({ region: "eu-west-1" }));
    expect(result.executionArn).toBe(executionArn);
    expect(result.message).toContain(`continues at ${STEPS.rawToProcessed}`);
    expect(sfn.commandCalls(RedriveExecutionCommand).map((c) => c.args[0].input)).toEqual([{ executionArn }]);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it("re-runs the input of an execution whose failure the pipeline caught (a redrive would only enter PipelineFailed again)", async () => {
    sfn.on(DescribeStateMachineCommand).resolves({});
    const input = JSON.stringify({ source: "aws.s3", detail: { object: { key: `${dataset}/a.json` } } });
    sfn.on(DescribeExecutionCommand).resolves({ status: "FAILED", name: "abc-123", input });
    sfn
      .on(GetExecutionHistoryCommand)
      .resolves(stoppedIn(STEPS.failed, JSON.stringify({ failure: { step: STEPS.rawToProcessed } })));
    const now = new Date("2026-12-01T20:37:05Z");
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${executionArn}-rerun-20261201T203705Z` });
    const result = await rerun(
      { env: "prod", dataset, kind: "redrive", executionArn },
      new SFNClient({ region: "eu-west-1" }),
      now,
    );
    expect(sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input)).toEqual([
      { stateMachineArn: machine, name: "abc-123-rerun-20261201T203705Z", input },
    ]);
    expect(sfn.commandCalls(RedriveExecutionCommand)).toHaveLength(0);
    expect(result.message).toContain(`failed in ${STEPS.rawToProcessed}`);
    expect(result.manifest).toMatch(
      new RegExp(`/pipeline-manifests/${dataset}/abc-123-rerun-20261201T203705Z\\.json$`),
    );
  });

  it("refuses an execution that did not fail, and names a re-run within Step Functions' 80 characters", async () => {
    sfn.on(DescribeStateMachineCommand).resolves({});
    sfn.on(DescribeExecutionCommand).resolves({ status: "SUCCEEDED", name: "abc-123", input: "{}" });
    await expect(rerun({ kind: "redrive", executionArn }, new SFNClient({ region: "eu-west-1" }))).rejects.toThrow(
      "is SUCCEEDED: only a failed, timed-out or aborted execution",
    );
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(sfn.commandCalls(RedriveExecutionCommand)).toHaveLength(0);
    const long = redriveRerunName("x".repeat(80), new Date());
    expect(long.length).toBe(80);
    expect(long).toMatch(/^x+-rerun-\d{8}T\d{6}Z$/);
  });

  it("refuses to redrive an execution of another state machine or environment", async () => {
    sfn.on(DescribeStateMachineCommand).resolves({});
    for (const other of [
      machine.replace(":stateMachine:", ":execution:").replace("-prod-", "-dev-") + ":abc",
      machine.replace(":stateMachine:", ":execution:").replace(`-${dataset}-`, "-other-") + ":abc",
      machine.replace(":stateMachine:", ":execution:") + ":",
    ]) {
      await expect(
        rerun({ env: "prod", dataset, kind: "redrive", executionArn: other }, new SFNClient({ region: "eu-west-1" })),
      ).rejects.toThrow(`is not an execution of ${machine}`);
    }
    expect(sfn.commandCalls(RedriveExecutionCommand)).toHaveLength(0);
  });

  it("says so when the environment has no such pipeline deployed", async () => {
    sfn
      .on(DescribeStateMachineCommand)
      .rejects(Object.assign(new Error("missing"), { name: "StateMachineDoesNotExist" }));
    await expect(rerun({ env: "prod", dataset, kind: "all" }, new SFNClient({ region: "eu-west-1" }))).rejects.toThrow(
      `prod has no pipeline for ${dataset}: state machine ${machine} does not exist`,
    );
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});
