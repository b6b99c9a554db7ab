/**
 * Observability for whatever the stack holds. At synth, an aspect walks the stack and, for every
 * resource it finds (see discovery.ts), adds:
 *
 * - alarms with the environment's thresholds: each Lambda (errors, throttles, p99 duration as a
 *   share of its own timeout), Glue job (failed runs, counted by a per-job EventBridge rule), state
 *   machine (failed and timed-out executions), dead-letter queue (depth), Firehose stream (data
 *   freshness) and Kinesis stream (iterator age). Where the environment pages (`notify: "page"`)
 *   they notify the on-call topic; where it records, they have no actions.
 * - a log group with the environment's retention and the logs key for each Lambda that lacks one,
 *   and the retention and key on every log group that sets neither;
 * - one dashboard covering the pipeline end to end.
 *
 * Nothing here lists today's resources: a module added later is covered by the same walk.
 */
import { Aspects, DefaultTokenResolver, IAspect, Lazy, StringConcat, TerraformStack, Token, Tokenization } from "cdktf";
import { CloudwatchDashboard } from "@cdktf/provider-aws/lib/cloudwatch-dashboard";
import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import type { GlueJob } from "@cdktf/provider-aws/lib/glue-job";
import type { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { Construct, IConstruct } from "constructs";
import type { AlarmsConfig } from "../../environments";
import { ValidationError } from "../shared/errors";
import { EncryptionKey } from "../shared/encryption-key";
import type { StreamSqlConfig } from "../../environments/schema";
import type { Naming } from "../shared/naming";
import { stackOutput } from "../shared/outputs";
import { skipPolicyCheck } from "../shared/policy-checks";
import {
  AlarmSpec,
  deadLetterQueueAlarms,
  firehoseAlarms,
  flinkAlarms,
  glueJobAlarms,
  kinesisAlarms,
  LAMBDA_DEFAULT_TIMEOUT_SECONDS,
  lambdaAlarms,
  stateMachineAlarms,
} from "./alarms";
import { DashboardSection, dashboardBody, metric } from "./dashboard";
import { discoverResources, literal, type DiscoveredResources } from "./discovery";

export * from "./alarms";
export { discoverResources, type DiscoveredResources } from "./discovery";

/** Glue job states that count as a failed run. */
export const GLUE_FAILED_STATES = ["FAILED", "TIMEOUT", "ERROR"] as const;

export interface ObservabilityProps {
  readonly naming: Naming;
  readonly accountId: string;
  readonly region: string;
  /** Thresholds, evaluation and where alarms go (the environment's `alarms`). */
  readonly alarms: AlarmsConfig;
  /** Days every log group keeps its events (the environment's `logs.retentionDays`). */
  readonly logRetentionDays: number;
  /** Thresholds of Managed Flink applications' alarms (the environment's `streamSql.alarms`); required when the stack has one. */
  readonly streamSqlAlarms?: StreamSqlConfig["alarms"];
}

/** An alarm the aspect created, with what it watches. */
export interface CreatedAlarm {
  readonly alarm: CloudwatchMetricAlarm;
  readonly spec: AlarmSpec;
  /** Construct path of the watched resource. */
  readonly resourcePath: string;
}

/** A year of logs: what audit evidence needs (CKV_AWS_338). Shorter retention is a non-production choice. */
const YEAR_OF_LOGS_DAYS = 365;

export class Observability extends Construct {
  /** Encrypts every log group the platform owns; CloudWatch Logs may use it for exactly those groups. */
  readonly logsKey: EncryptionKey;
  readonly dashboard: CloudwatchDashboard;
  readonly dashboardName: string;
  /** Filled at synth by the aspect. */
  readonly alarms: CreatedAlarm[] = [];
  /** Per-Glue-job rules whose TriggeredRules metric counts failed runs (filled at synth). */
  readonly glueFailureRules: CloudwatchEventRule[] = [];
  /** Log groups this construct created for Lambda functions that had none (filled at synth). */
  readonly lambdaLogGroups: CloudwatchLogGroup[] = [];
  private onCallTopicArn?: string;
  private discovered?: DiscoveredResources;
  private readonly encryptedLogGroups: string[] = [];

  constructor(
    scope: Construct,
    id: string,
    private readonly props: ObservabilityProps,
  ) {
    super(scope, id);
    const { naming, accountId, region } = props;
    this.logsKey = new EncryptionKey(this, "logs-key", { naming, purpose: "logs", accountId, region });
    this.dashboardName = naming.name("pipeline");
    this.dashboard = new CloudwatchDashboard(this, "dashboard", {
      dashboardName: this.dashboardName,
      dashboardBody: Lazy.stringValue({ produce: () => this.renderDashboard() }),
    });
    Aspects.of(TerraformStack.of(this)).add(new ObservabilityAspect(this));

    stackOutput(
      this,
      "observability_dashboard_name",
      this.dashboard.dashboardName,
      "CloudWatch dashboard covering the pipeline end to end",
    );
    stackOutput(
      this,
      "observability_logs_kms_key_arn",
      this.logsKey.arn,
      "KMS key that encrypts every log group the platform owns",
    );
  }

  /**
   * The on-call topic alarms notify where the environment pages. Required then: a paging
   * environment without it fails at synth. Ignored where alarms only record.
   */
  notifyOnCall(topic: { readonly arn: string }): void {
    this.onCallTopicArn = topic.arn;
  }

  /** What the aspect found (after synth). */
  get resources(): DiscoveredResources {
    if (!this.discovered)
      throw new ValidationError(
        "OBSERVABILITY_NOT_SYNTHESIZED",
        "resources are discovered at synth; synthesize the stack first",
        this,
      );
    return this.discovered;
  }

  /** @internal Runs once, at synth, when the aspect visits the stack: everything is constructed by then. */
  _instrument(stack: TerraformStack): void {
    if (this.discovered) return;
    if (this.props.alarms.notify === "page" && !this.onCallTopicArn) {
      throw new ValidationError(
        "OBSERVABILITY_NO_ON_CALL_TOPIC",
        `alarms.notify is "page" but no on-call topic was given (call notifyOnCall(topic))`,
        this,
      );
    }
    const found = discoverResources(stack);
    this.addLambdaLogGroups(stack, found.lambdaFunctions, found.logGroups);
    this.discovered = discoverResources(stack); // now including the log groups just added
    this.configureLogGroups(this.discovered.logGroups);

    const { alarms } = this.props;
    for (const fn of this.discovered.lambdaFunctions) {
      const timeout = fn.timeoutInput ?? LAMBDA_DEFAULT_TIMEOUT_SECONDS;
      if (Token.isUnresolved(timeout))
        throw new ValidationError(
          "OBSERVABILITY_COMPUTED_TIMEOUT",
          "the function's timeout is computed; the duration alarm needs a number of seconds",
          fn,
        );
      this.addAlarms(fn, literal(fn.functionNameInput), lambdaAlarms(alarms, fn.functionName, timeout));
    }
    for (const job of this.discovered.glueJobs) {
      const rule = this.glueFailureRule(job);
      this.addAlarms(job, literal(job.nameInput), glueJobAlarms(alarms, rule.name));
    }
    for (const sm of this.discovered.stateMachines)
      this.addAlarms(sm, literal(sm.nameInput), stateMachineAlarms(alarms, sm.arn));
    for (const q of this.discovered.deadLetterQueues)
      this.addAlarms(q, literal(q.nameInput), deadLetterQueueAlarms(alarms, q.name));
    for (const s of this.discovered.firehoseStreams) {
      const destination = literal(s.destinationInput);
      if (!destination)
        throw new ValidationError(
          "OBSERVABILITY_COMPUTED_DESTINATION",
          "the Firehose destination is computed; the freshness alarm needs to know it",
          s,
        );
      this.addAlarms(s, literal(s.nameInput), firehoseAlarms(alarms, s.name, destination));
    }
    for (const s of this.discovered.kinesisStreams)
      this.addAlarms(s, literal(s.nameInput), kinesisAlarms(alarms, s.name));
    for (const app of this.discovered.flinkApplications) {
      const thresholds = this.props.streamSqlAlarms;
      if (!thresholds)
        throw new Error(`${app.node.path}: a Managed Flink application needs alarm thresholds (streamSqlAlarms)`);
      // The application names the stream it reads in a property group of its own (modules/streaming).
      const groups = (app.applicationConfigurationInput?.environmentProperties?.propertyGroup ?? []) as {
        propertyGroupId: string;
        propertyMap: Record<string, string>;
      }[];
      const stream = Array.isArray(groups)
        ? groups.find((g) => g.propertyGroupId === "monitoring")?.propertyMap["input.stream.name"]
        : undefined;
      if (!stream || !literal(stream))
        throw new Error(
          `${app.node.path}: the application must name its input stream literally (property group "monitoring", "input.stream.name") for its millisBehindLatest alarm`,
        );
      this.addAlarms(app, literal(app.nameInput), flinkAlarms(thresholds, app.name, stream));
    }
  }

  /**
   * A Lambda writes to its logging_config group or /aws/lambda/<name>; create that group where no
   * module did. Names are compared as Terraform will see them, so a module's group named after the
   * function's `function_name` attribute counts as existing.
   */
  private addLambdaLogGroups(
    stack: TerraformStack,
    functions: readonly LambdaFunction[],
    groups: readonly CloudwatchLogGroup[],
  ): void {
    const resolve = (value: string) =>
      String(Tokenization.resolve(value, { scope: stack, resolver: new DefaultTokenResolver(new StringConcat()) }));
    const existing = new Set(
      groups
        .map((g) => g.nameInput)
        .filter((n): n is string => !!n)
        .map(resolve),
    );
    for (const fn of functions) {
      const configured = fn.loggingConfigInput?.logGroup;
      if (configured !== undefined && (existing.has(resolve(configured)) || !literal(configured))) continue; // the module manages it
      const name =
        literal(configured) ?? (literal(fn.functionNameInput) ? `/aws/lambda/${fn.functionNameInput}` : undefined);
      if (!name)
        throw new ValidationError(
          "OBSERVABILITY_COMPUTED_FUNCTION_NAME",
          "the function name is computed; give it a literal name so its log group can be created with retention and KMS",
          fn,
        );
      const byAttribute = `/aws/lambda/\${${fn.terraformResourceType}.${fn.friendlyUniqueId}.function_name}`;
      if (existing.has(name) || existing.has(byAttribute)) continue;
      const group = new CloudwatchLogGroup(this, `log-group-${idFor(fn)}`, { name });
      // The group must exist before the function could create it (without retention or key) on first run.
      fn.dependsOn = [...(fn.dependsOn ?? []), `${group.terraformResourceType}.${group.friendlyUniqueId}`];
      this.lambdaLogGroups.push(group);
      existing.add(name);
    }
  }

  /**
   * Retention and key on every log group that sets neither. The key policy names each group it
   * encrypts; for a group whose name is computed at apply time, the literal start of the name
   * followed by "*" (e.g. "/aws/lambda/*").
   */
  private configureLogGroups(groups: readonly CloudwatchLogGroup[]): void {
    const { region, accountId } = this.props;
    for (const group of groups) {
      if (group.retentionInDaysInput === undefined) group.retentionInDays = this.props.logRetentionDays;
      const days = group.retentionInDaysInput;
      if (days !== undefined && days < YEAR_OF_LOGS_DAYS) {
        // Only outside prod: the config rules require a year there (environments/schema.ts).
        skipPolicyCheck(
          group,
          "CKV_AWS_338",
          `kept ${days} day${days === 1 ? "" : "s"}, the environment's logs.retentionDays: logs of a non-production environment are for debugging, not audit evidence (prod keeps ≥ 365)`,
        );
      }
      if (group.kmsKeyIdInput !== undefined) continue; // the module chose its own key
      const name = group.nameInput;
      if (name === undefined)
        throw new ValidationError(
          "OBSERVABILITY_UNNAMED_LOG_GROUP",
          "the log group has no name (a name prefix cannot be named in the logs key policy)",
          group,
        );
      const pattern = literal(name) ?? `${literalPrefix(name)}*`;
      group.kmsKeyId = this.logsKey.arn;
      this.encryptedLogGroups.push(
        this.props.naming.arn({ service: "logs", region, account: accountId, resource: `log-group:${pattern}` }),
      );
    }
    if (this.encryptedLogGroups.length > 0) {
      const arns = [...new Set(this.encryptedLogGroups)].sort();
      this.logsKey.allowCloudWatchLogs(
        "CloudWatchLogsForPlatformLogGroups",
        arns.some((a) => a.includes("*"))
          ? { ArnLike: { "kms:EncryptionContext:aws:logs:arn": arns } }
          : { ArnEquals: { "kms:EncryptionContext:aws:logs:arn": arns } },
        { withoutPlaintextDataKeys: true },
      );
    }
  }

  /** A rule matching this job's failed runs: its TriggeredRules metric is the job's failure count. */
  private glueFailureRule(job: GlueJob): CloudwatchEventRule {
    const rule = new CloudwatchEventRule(this, `glue-failed-${idFor(job)}`, {
      name: this.props.naming.bounded(`${this.baseName(job, literal(job.nameInput))}-failed`, "eventRule"),
      description:
        "Counts failed, timed-out and errored runs of one Glue job (the job's failure alarm reads its TriggeredRules)",
      eventPattern: JSON.stringify({
        source: ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        detail: { jobName: [job.name], state: [...GLUE_FAILED_STATES] },
      }),
    });
    this.glueFailureRules.push(rule);
    return rule;
  }

  private addAlarms(resource: IConstruct, name: string | undefined, specs: readonly AlarmSpec[]): void {
    const { alarms } = this.props;
    const actions = alarms.notify === "page" && this.onCallTopicArn ? [this.onCallTopicArn] : undefined;
    for (const spec of specs) {
      const alarm = new CloudwatchMetricAlarm(this, `${spec.kind}-${idFor(resource)}`, {
        alarmName: this.props.naming.bounded(`${this.baseName(resource, name)}-${spec.suffix}`, "alarm"),
        alarmDescription: spec.description,
        namespace: spec.namespace,
        metricName: spec.metricName,
        dimensions: { ...spec.dimensions },
        statistic: spec.statistic,
        extendedStatistic: spec.extendedStatistic,
        period: alarms.periodSeconds,
        evaluationPeriods: alarms.evaluationPeriods,
        datapointsToAlarm: alarms.datapointsToAlarm,
        threshold: spec.threshold,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching", // no invocations, no runs, no messages: nothing is wrong
        alarmActions: actions,
        okActions: actions,
      });
      this.alarms.push({ alarm, spec, resourcePath: resource.node.path });
    }
  }

  /** "<prefix>-<resource name without the prefix>", or the construct path where the name is computed. */
  private baseName(resource: IConstruct, name: string | undefined): string {
    const prefix = this.props.naming.prefix;
    if (name) return name.startsWith(`${prefix}-`) ? name : `${prefix}-${name}`;
    return `${prefix}-${resource.node.path
      .split("/")
      .slice(1)
      .join("-")
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")}`;
  }

  private renderDashboard(): string {
    const found = this.discovered;
    const { region, alarms, naming } = this.props;
    if (!found) return dashboardBody(`${naming.prefix} data pipeline`, region, alarms.periodSeconds, [], []);
    const sum = { stat: "Sum" };
    const sections: DashboardSection[] = [
      {
        title: "Ingestion",
        widgets: [
          ...(found.lambdaFunctions.length > 0
            ? [
                {
                  type: "metric" as const,
                  title: "Lambda invocations, errors, throttles",
                  stat: "Sum",
                  metrics: found.lambdaFunctions.flatMap((f) =>
                    ["Invocations", "Errors", "Throttles"].map((m) =>
                      metric("AWS/Lambda", m, { FunctionName: f.functionName }, sum),
                    ),
                  ),
                },
                {
                  type: "metric" as const,
                  title: "Lambda duration p99 (ms)",
                  metrics: found.lambdaFunctions.map((f) =>
                    metric("AWS/Lambda", "Duration", { FunctionName: f.functionName }, { stat: "p99" }),
                  ),
                },
              ]
            : []),
          ...(found.kinesisStreams.length > 0
            ? [
                {
                  type: "metric" as const,
                  title: "Kinesis records in, iterator age (ms)",
                  metrics: found.kinesisStreams.flatMap((s) => [
                    metric("AWS/Kinesis", "IncomingRecords", { StreamName: s.name }, sum),
                    metric(
                      "AWS/Kinesis",
                      "GetRecords.IteratorAgeMilliseconds",
                      { StreamName: s.name },
                      { stat: "Maximum", yAxis: "right" },
                    ),
                  ]),
                },
              ]
            : []),
          ...(found.firehoseStreams.length > 0
            ? [
                {
                  type: "metric" as const,
                  title: "Firehose records delivered, data freshness (s)",
                  metrics: found.firehoseStreams.flatMap((s) => [
                    metric("AWS/Firehose", "DeliveryToS3.Records", { DeliveryStreamName: s.name }, sum),
                    metric(
                      "AWS/Firehose",
                      "DeliveryToS3.DataFreshness",
                      { DeliveryStreamName: s.name },
                      { stat: "Maximum", yAxis: "right" },
                    ),
                  ]),
                },
              ]
            : []),
        ],
      },
      {
        title: "Landing and triggers",
        widgets: [
          ...(found.queues.length > 0
            ? [
                {
                  type: "metric" as const,
                  title: "Queues: messages waiting, age of oldest (s)",
                  metrics: found.queues.flatMap((q) => [
                    metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", { QueueName: q.name }, { stat: "Maximum" }),
                    metric(
                      "AWS/SQS",
                      "ApproximateAgeOfOldestMessage",
                      { QueueName: q.name },
                      { stat: "Maximum", yAxis: "right" },
                    ),
                  ]),
                },
              ]
            : []),
          ...(found.pipes.length > 0
            ? [
                {
                  type: "metric" as const,
                  title: "Pipes: batches delivered, failed",
                  metrics: found.pipes.flatMap((p) =>
                    ["Invocations", "ExecutionFailed"].map((m) =>
                      metric("AWS/EventBridge/Pipes", m, { PipeName: p.name }, sum),
                    ),
                  ),
                },
              ]
            : []),
        ],
      },
      {
        title: "Pipelines",
        widgets:
          found.stateMachines.length > 0
            ? [
                {
                  type: "metric" as const,
                  title: "Executions started, succeeded, failed, timed out",
                  metrics: found.stateMachines.flatMap((sm) =>
                    ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"].map((m) =>
                      metric("AWS/States", m, { StateMachineArn: sm.arn }, sum),
                    ),
                  ),
                },
                {
                  type: "metric" as const,
                  title: "Execution time p90 (ms)",
                  metrics: found.stateMachines.map((sm) =>
                    metric("AWS/States", "ExecutionTime", { StateMachineArn: sm.arn }, { stat: "p90" }),
                  ),
                },
              ]
            : [],
      },
      {
        title: "Glue jobs",
        widgets:
          this.glueFailureRules.length > 0
            ? [
                {
                  type: "metric" as const,
                  title: "Failed runs per job",
                  metrics: this.glueFailureRules.map((r) =>
                    metric("AWS/Events", "TriggeredRules", { RuleName: r.name }, sum),
                  ),
                },
              ]
            : [],
      },
      {
        title: "Dead-letter queues (redrive: docs/operator-guide.md)",
        widgets:
          found.deadLetterQueues.length > 0
            ? [
                {
                  type: "metric" as const,
                  title: "Messages waiting for a redrive",
                  metrics: found.deadLetterQueues.map((q) =>
                    metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", { QueueName: q.name }, { stat: "Maximum" }),
                  ),
                },
              ]
            : [],
      },
    ];
    return dashboardBody(
      `${naming.prefix} data pipeline`,
      region,
      alarms.periodSeconds,
      sections,
      this.alarms.map((a) => a.alarm.arn),
    );
  }
}

class ObservabilityAspect implements IAspect {
  constructor(private readonly observability: Observability) {}

  visit(node: IConstruct): void {
    if (node instanceof TerraformStack) this.observability._instrument(node);
  }
}

/** A construct id for what the aspect adds for `resource`: its path, made id-safe. */
function idFor(resource: IConstruct): string {
  return resource.node.path
    .split("/")
    .slice(1)
    .join("-")
    .replace(/[^A-Za-z0-9-]+/g, "-");
}

/** The literal start of a string that holds tokens ("/aws/lambda/" of "/aws/lambda/${name}"), asked of cdktf, not read from its token text. */
function literalPrefix(value: string): string {
  const first: unknown = Tokenization.reverseString(value).firstValue;
  return typeof first === "string" ? first : "";
}
