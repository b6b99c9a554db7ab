/**
 * What starts the Glue extracts: one EventBridge Scheduler schedule per extract job, calling Glue
 * `StartJobRun` through Scheduler's universal target, with retries, a dead-letter queue and a role
 * that may start exactly that job. The cadence is the environment's (`ingestion.extracts.schedule`);
 * the contract bounds it: a schedule may not fire more often than the dataset declares one run to
 * take (`ingestion.durationMinutes`), or every other start would find the previous run still going.
 *
 * Why Scheduler and not a Glue trigger: a trigger has no retry policy and no dead-letter queue (a
 * start it cannot make is only a line in its history), and the API path's schedules are already
 * Scheduler's, so every source starts the same way and is watched the same way.
 */
import type { IngestionConfig } from "../../environments";
import { DEFAULT_PARTITION, formatArn } from "../shared/arn";
import { SchedulerSchedule } from "@cdktf/provider-aws/lib/scheduler-schedule";
import { Construct } from "constructs";
import type { PartitionedDataset } from "../../datasets";
import { ConfigError, type ConfigProblem } from "../../environments/errors";
import { DeadLetterQueue } from "../orchestration/messaging";
import type { EncryptionKey } from "../shared/encryption-key";
import { ServiceRole } from "../shared/iam";
import { DEAD_LETTER_ONLY, SCHEDULE_INPUT } from "../shared/kept-reasons";
import type { Naming } from "../shared/naming";
import type { GlueJobRef } from "./glue";

/** The extract schedules' settings (the environment's `ingestion.extracts`). */
/** The environment's `ingestion.extracts` (documented in environments/schema.ts). */
export type ExtractScheduleSettings = IngestionConfig["extracts"];

/** Scheduler's universal target for Glue StartJobRun in `partition` (the SDK call, not a resource ARN). */
export function glueStartJobRunTarget(partition: string = DEFAULT_PARTITION): string {
  return formatArn({ partition, service: "scheduler", resource: "aws-sdk:glue:startJobRun" });
}

export interface ExtractScheduleProps {
  readonly naming: Naming;
  readonly accountId: string;
  readonly region: string;
  readonly dataset: PartitionedDataset;
  /** The extract job this schedule starts. */
  readonly job: GlueJobRef;
  readonly settings: ExtractScheduleSettings;
  /** Encrypts the schedule's input and the dead-letter queue (the ingestion key). */
  readonly key: EncryptionKey;
}

export class ExtractSchedule extends Construct {
  readonly schedule: SchedulerSchedule;
  /** "<prefix>-<dataset>-extract": the schedule's name. */
  readonly name: string;
  readonly role: ServiceRole;
  /** Starts Scheduler could not make after its retries, each with the error Glue returned. */
  readonly deadLetter: DeadLetterQueue;

  constructor(scope: Construct, id: string, props: ExtractScheduleProps) {
    super(scope, id);
    const { naming, accountId, region, dataset, job, settings, key } = props;
    this.name = naming.name(dataset.name, "extract");

    this.deadLetter = new DeadLetterQueue(this, "dead-letter", { naming, name: `${dataset.name}-extract`, key });

    this.role = new ServiceRole(this, "role", {
      naming,
      name: `${dataset.name}-extract-schedule`,
      service: "scheduler.amazonaws.com",
      accountId,
      // Scheduler names the schedule group, not the schedule, as the source of an assumed role.
      sourceArns: [
        naming.arn({ service: "scheduler", region, account: accountId, resource: "schedule-group/default" }),
      ],
      description: `EventBridge Scheduler: starts ${job.name}, dead-letters what it cannot start`,
    });
    this.role.addToPolicy({ sid: "StartExtract", actions: ["glue:StartJobRun"], resources: [job.arn] });
    this.role.addToPolicy({
      sid: "DeadLetters",
      actions: ["sqs:SendMessage"],
      resources: [this.deadLetter.arn],
      keptBecause: DEAD_LETTER_ONLY,
    });
    key.grantEncryptDecrypt(this.role, "sqs", DEAD_LETTER_ONLY);
    // The schedule's input is stored under the ingestion key; Scheduler decrypts it with this role.
    this.role.addToPolicy({
      sid: "ScheduleInput",
      actions: ["kms:Decrypt"],
      resources: [key.arn],
      keptBecause: SCHEDULE_INPUT,
    });

    this.schedule = new SchedulerSchedule(this, "schedule", {
      name: this.name,
      description: `Starts ${job.name} (${dataset.name}: ${job.kind})`,
      kmsKeyArn: key.arn,
      scheduleExpression: settings.schedule,
      scheduleExpressionTimezone: "UTC",
      flexibleTimeWindow: { mode: "OFF" },
      target: {
        arn: glueStartJobRunTarget(naming.partition),
        roleArn: this.role.arn,
        // The job's default arguments point at the dataset; a scheduled run needs nothing else.
        input: JSON.stringify({ JobName: job.name }),
        retryPolicy: {
          maximumRetryAttempts: settings.retryAttempts,
          maximumEventAgeInSeconds: settings.maxEventAgeSeconds,
        },
        deadLetterConfig: { arn: this.deadLetter.arn },
      },
    });
  }
}

/** Minutes in a unit of a rate() expression. */
const RATE_UNIT_MINUTES: Readonly<Record<string, number>> = {
  minute: 1,
  minutes: 1,
  hour: 60,
  hours: 60,
  day: 1440,
  days: 1440,
};

/**
 * The shortest time between two firings of a Scheduler expression, in minutes, where it can be read
 * from the expression: rate(), and a cron() whose minutes and hours are "*", a step ("*\/15", "5/20"),
 * a list or a single value (a cron on fixed hours and minutes fires at most once a day). Undefined
 * for anything else (ranges): that cron is not checked.
 */
export function shortestIntervalMinutes(expression: string): number | undefined {
  const rate = /^rate\((\d+) (minutes?|hours?|days?)\)$/.exec(expression);
  if (rate) return Number(rate[1]) * RATE_UNIT_MINUTES[rate[2]];
  const cron = /^cron\((\S+) (\S+) \S+ \S+ \S+ \S+\)$/.exec(expression);
  if (!cron) return undefined;
  const gap = (field: string, cycle: number): number | "fixed" | undefined => {
    if (field === "*") return 1;
    const step = /^(\*|\d+)\/(\d+)$/.exec(field);
    if (step) return Number(step[2]);
    if (/^\d+$/.test(field)) return "fixed";
    if (/^\d+(,\d+)+$/.test(field)) {
      const values = field
        .split(",")
        .map(Number)
        .sort((a, b) => a - b);
      const gaps = values.slice(1).map((v, i) => v - values[i]);
      return Math.min(...gaps, cycle - values[values.length - 1] + values[0]);
    }
    return undefined;
  };
  const minutes = gap(cron[1], 60);
  const hours = gap(cron[2], 24);
  if (minutes === undefined || hours === undefined) return undefined;
  if (minutes !== "fixed") return minutes; // several firings within one hour
  return hours === "fixed" ? 1440 : hours * 60;
}

/**
 * Every extract's contract declares how long one run takes; the environment's extract schedule must
 * leave that long between starts. Reported like any configuration problem: environment, field, rule.
 */
export function checkExtractCadence(
  environment: string,
  settings: ExtractScheduleSettings,
  extracted: readonly PartitionedDataset[],
): void {
  const interval = shortestIntervalMinutes(settings.schedule);
  if (interval === undefined) return;
  const problems: ConfigProblem[] = extracted
    .filter((dataset) => dataset.contract.ingestion.durationMinutes > interval)
    .map((dataset) => ({
      environment,
      field: "ingestion.extracts.schedule",
      rule:
        `must leave dataset ${dataset.name}'s declared run of ${dataset.contract.ingestion.durationMinutes} minutes between starts: ` +
        `it fires every ${interval} minutes, so each start would find the previous run still going (got ${JSON.stringify(settings.schedule)})`,
    }));
  if (problems.length) throw new ConfigError(problems);
}
