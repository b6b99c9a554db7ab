/**
 * A small typed Amazon States Language builder. State machine definitions are built from these
 * types, never written as JSON strings, so a missing Retry or Catch on a Task, a transition to a
 * state that does not exist, or an unreachable state fails at compile time or at synth.
 *
 * Only the subset the platform uses is modelled (JSONPath query language: Task, Pass, Choice,
 * Wait, Succeed, Fail). The output is plain ASL; `asl-validator` checks it in the tests.
 */
import { DEFAULT_PARTITION, formatArn } from "../shared/arn";

/** A JSONPath into the state input (`$...`) or the context object (`$$...`). */
export type JsonPath = `$${string}`;

/** A JSON value in `Parameters`/`ResultSelector`; keys ending in ".$" hold a path or intrinsic function. */
export type Payload = { readonly [key: string]: PayloadValue };
export type PayloadValue = string | number | boolean | null | Payload | readonly PayloadValue[];

export type JitterStrategy = "FULL" | "NONE";

export interface Retrier {
  readonly ErrorEquals: readonly string[];
  readonly IntervalSeconds?: number;
  readonly MaxAttempts?: number;
  readonly BackoffRate?: number;
  /** Upper bound of one wait, whatever the backoff has grown to. */
  readonly MaxDelaySeconds?: number;
  /** FULL spreads retries of many executions over the interval instead of retrying in lockstep. */
  readonly JitterStrategy?: JitterStrategy;
}

export interface Catcher {
  readonly ErrorEquals: readonly string[];
  readonly Next: string;
  /** Where the error ({ Error, Cause }) goes in the input; `null` drops it. */
  readonly ResultPath?: JsonPath | null;
}

type Transition = { readonly Next: string; readonly End?: never } | { readonly End: true; readonly Next?: never };

interface Common {
  readonly Comment?: string;
}

interface IoPaths {
  readonly InputPath?: JsonPath | null;
  readonly OutputPath?: JsonPath | null;
}

/** A Task must say how it retries transient errors and where it goes when it gives up. */
export type TaskState = Common &
  IoPaths &
  Transition & {
    readonly Type: "Task";
    readonly Resource: string;
    readonly Parameters?: Payload;
    readonly ResultSelector?: Payload;
    readonly ResultPath?: JsonPath | null;
    readonly TimeoutSeconds?: number;
    readonly Retry: readonly Retrier[];
    readonly Catch: readonly Catcher[];
  };

export type PassState = Common &
  IoPaths &
  Transition & {
    readonly Type: "Pass";
    readonly Parameters?: Payload;
    readonly Result?: PayloadValue;
    readonly ResultPath?: JsonPath | null;
  };

export type WaitState = Common &
  IoPaths &
  Transition &
  ({ readonly Type: "Wait"; readonly Seconds: number } | { readonly Type: "Wait"; readonly SecondsPath: JsonPath });

/** Comparison operators the platform uses. */
type Comparison =
  | { readonly StringEquals: string }
  | { readonly StringMatches: string }
  | { readonly IsPresent: boolean }
  | { readonly BooleanEquals: boolean }
  | { readonly NumericGreaterThan: number };

export type ChoiceRule =
  | ({ readonly Variable: JsonPath } & Comparison)
  | { readonly And: readonly ChoiceRule[] }
  | { readonly Or: readonly ChoiceRule[] }
  | { readonly Not: ChoiceRule };

export type ChoiceState = Common &
  IoPaths & {
    readonly Type: "Choice";
    readonly Choices: readonly (ChoiceRule & { readonly Next: string })[];
    readonly Default?: string;
  };

export type SucceedState = Common & IoPaths & { readonly Type: "Succeed" };

export type FailState = Common & {
  readonly Type: "Fail";
  readonly Error?: string;
  readonly Cause?: string;
  readonly ErrorPath?: JsonPath;
  readonly CausePath?: JsonPath;
};

export type State = TaskState | PassState | WaitState | ChoiceState | SucceedState | FailState;

export interface StateMachineDefinition {
  readonly Comment?: string;
  readonly StartAt: string;
  /** The execution fails as timed out after this long. */
  readonly TimeoutSeconds?: number;
  readonly States: Readonly<Record<string, State>>;
}

/** Targets a state can move to (Next, Default, Choices, Catch). */
export function transitionsOf(state: State): string[] {
  const out: string[] = [];
  if ("Next" in state && state.Next) out.push(state.Next);
  if (state.Type === "Choice") {
    out.push(...state.Choices.map((c) => c.Next));
    if (state.Default) out.push(state.Default);
  }
  if (state.Type === "Task") out.push(...state.Catch.map((c) => c.Next));
  return out;
}

/**
 * Collects states and builds a definition. `build` refuses a definition with a transition to an
 * undefined state, an unreachable state, a Task without a retrier or catcher, or a Choice
 * without a way out, naming the state: these are mistakes, and the service would only say so at apply.
 */
export class StateMachineBuilder {
  private readonly states = new Map<string, State>();

  constructor(private readonly name: string) {}

  /** Adds a state; names are unique. Returns the name, so callers can chain transitions to it. */
  add(name: string, state: State): string {
    if (this.states.has(name)) throw new Error(`${this.name}: state "${name}" is defined twice`);
    if (name.length === 0 || name.length > 80)
      throw new Error(`${this.name}: state name "${name}" must be 1 to 80 characters`);
    this.states.set(name, state);
    return name;
  }

  build(
    startAt: string,
    options: { readonly comment?: string; readonly timeoutSeconds?: number } = {},
  ): StateMachineDefinition {
    const problems: string[] = [];
    if (!this.states.has(startAt)) problems.push(`StartAt "${startAt}" is not a state`);
    for (const [name, state] of this.states) {
      for (const target of transitionsOf(state)) {
        if (!this.states.has(target)) problems.push(`state "${name}" goes to undefined "${target}"`);
      }
      if (state.Type === "Task") {
        if (state.Retry.length === 0) problems.push(`task "${name}" has no Retry`);
        if (state.Catch.length === 0) problems.push(`task "${name}" has no Catch`);
      }
      if (state.Type === "Choice" && state.Choices.length === 0) problems.push(`choice "${name}" has no choices`);
    }
    const reachable = new Set<string>();
    const queue = this.states.has(startAt) ? [startAt] : [];
    for (let current = queue.shift(); current !== undefined; current = queue.shift()) {
      if (reachable.has(current)) continue;
      reachable.add(current);
      const state = this.states.get(current);
      if (state) queue.push(...transitionsOf(state).filter((t) => this.states.has(t)));
    }
    for (const name of this.states.keys()) if (!reachable.has(name)) problems.push(`state "${name}" is unreachable`);
    if (problems.length > 0) throw new Error(`state machine ${this.name} is invalid:\n  - ${problems.join("\n  - ")}`);
    return {
      ...(options.comment ? { Comment: options.comment } : {}),
      StartAt: startAt,
      ...(options.timeoutSeconds ? { TimeoutSeconds: options.timeoutSeconds } : {}),
      States: Object.fromEntries(this.states),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Service integrations the platform uses (resource ARNs and their request shapes). Each takes the
// environment's partition last (@default DEFAULT_PARTITION).
// ---------------------------------------------------------------------------------------------

/** "arn:<partition>:states:::<integration>": a Step Functions service integration. */
const integration = (partition: string, resource: string) => formatArn({ partition, service: "states", resource });

/** Starts a Glue job run and waits for it to finish (`.sync`): a failed run fails the task. */
export function glueStartJobRunSync(
  jobName: string,
  args?: Readonly<Record<string, string>>,
  partition: string = DEFAULT_PARTITION,
): Pick<TaskState, "Resource" | "Parameters"> {
  return {
    Resource: integration(partition, "glue:startJobRun.sync"),
    Parameters: { JobName: jobName, ...(args ? { Arguments: args } : {}) },
  };
}

/** Calls any AWS API through the AWS SDK integration (request and response as the API defines them). */
export function awsSdk(
  service: string,
  action: string,
  parameters: Payload,
  partition: string = DEFAULT_PARTITION,
): Pick<TaskState, "Resource" | "Parameters"> {
  return { Resource: integration(partition, `aws-sdk:${service}:${action}`), Parameters: parameters };
}

/** Publishes to an SNS topic; an object `Message` is serialized to JSON by Step Functions. */
export function snsPublish(
  parameters: { readonly TopicArn: string } & Payload,
  partition: string = DEFAULT_PARTITION,
): Pick<TaskState, "Resource" | "Parameters"> {
  return { Resource: integration(partition, "sns:publish"), Parameters: parameters };
}

/** Puts events on an EventBridge bus; a failed entry fails the task ("EventBridge.FailedEntry"). */
export function eventsPutEvents(
  entries: readonly Payload[],
  partition: string = DEFAULT_PARTITION,
): Pick<TaskState, "Resource" | "Parameters"> {
  return { Resource: integration(partition, "events:putEvents"), Parameters: { Entries: entries } };
}

/** Every Task state of a definition, by name. */
export function taskStates(definition: StateMachineDefinition): [string, TaskState][] {
  return Object.entries(definition.States).filter((e): e is [string, TaskState] => e[1].Type === "Task");
}
