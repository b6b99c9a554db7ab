/**
 * The whole-stack policy walk: every IAM policy document in every environment — trust policies,
 * inline role policies, key, bucket, queue and topic policies, and any kind a new module adds —
 * grants named actions only, to principals of this account or to one pinned service, on resources
 * this stack created (or, for the few actions AWS offers no resource scope for, on "*" with a
 * reason). Module tests check each role's exact access; this one checks that nothing escapes.
 */
import { Construct } from "constructs";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { SecretsmanagerSecretPolicy } from "@cdktf/provider-aws/lib/secretsmanager-secret-policy";
import { SnsTopicPolicy } from "@cdktf/provider-aws/lib/sns-topic-policy";
import { SsmDocument } from "@cdktf/provider-aws/lib/ssm-document";
import { SERVICES_WITHOUT_SOURCE_CONDITIONS } from "../../modules/shared/iam";
import { list, policyDocuments, UNSCOPED_ACTIONS, type PolicyDocument, type Statement } from "../helpers/policies";
import { synthAll, synthWithMetadata, type TerraformJson } from "../helpers/synth";
import { defined } from "../../modules/shared/defined";

/** What kind of policy each policy-bearing attribute holds. A new kind must be classified here. */
const KINDS: Record<string, "trust" | "identity" | "key" | "resource"> = {
  "aws_iam_role.assume_role_policy": "trust",
  "aws_iam_role_policy.policy": "identity",
  "aws_iam_policy.policy": "identity",
  "aws_kms_key.policy": "key",
  "aws_s3_bucket_policy.policy": "resource",
  "aws_sqs_queue_policy.policy": "resource",
  "aws_sns_topic_policy.policy": "resource",
  "aws_secretsmanager_secret_policy.policy": "resource",
  "aws_cloudwatch_log_resource_policy.policy_document": "resource",
};

const kindOf = (doc: PolicyDocument) => KINDS[`${doc.type}.${doc.attribute}`];
const label = (doc: PolicyDocument, s: Statement) =>
  `${doc.address} ${doc.attribute} ${s.Sid ?? JSON.stringify(s.Action)}`;

type Rule = "unclassified" | "wildcardActions" | "anyPrincipal" | "identity" | "resource" | "key" | "trust";

/** Every rule's violations in one stack (each list empty when the stack is sound). */
function audit(json: TerraformJson, accountId: string, region: string): Record<Rule, string[]> {
  const docs = policyDocuments(json);
  const each = (which: PolicyDocument[], check: (doc: PolicyDocument, s: Statement) => string | undefined) =>
    which.flatMap((doc) => doc.statements.map((s) => check(doc, s)).filter((v): v is string => !!v));
  const ofKind = (kind: string) => docs.filter((d) => kindOf(d) === kind);
  return {
    unclassified: docs
      .filter((d) => !kindOf(d))
      .map((d) => `${d.address} ${d.attribute}: a policy kind the walk does not know`),
    wildcardActions: each(docs, (doc, s) => {
      if (s.Effect !== "Allow") return undefined;
      if (s.NotAction || s.NotResource || s.NotPrincipal) return `${label(doc, s)}: Not* element in an Allow`;
      const wild = list(s.Action).filter((a) => a.includes("*"));
      return wild.length ? `${label(doc, s)}: allows ${wild.join(", ")}` : undefined;
    }),
    anyPrincipal: each(docs, (doc, s) =>
      s.Effect === "Allow" && (s.Principal === "*" || list(s.Principal?.AWS).includes("*"))
        ? `${label(doc, s)}: allows any principal`
        : undefined,
    ),
    identity: each(ofKind("identity"), (doc, s) => {
      if (s.Principal) return `${label(doc, s)}: principal in an identity policy`;
      const resources = list(s.Resource);
      if (resources.length === 0) return `${label(doc, s)}: no resource`;
      if (resources.includes("*")) {
        const scopable = list(s.Action).filter((a) => !(a in UNSCOPED_ACTIONS));
        if (scopable.length) return `${label(doc, s)}: "*" for ${scopable.join(", ")}, which AWS can scope`;
        if (list(s.Action).includes("cloudwatch:PutMetricData") && !s.Condition?.StringEquals?.["cloudwatch:namespace"])
          return `${label(doc, s)}: metrics without a namespace condition`;
        return undefined;
      }
      const foreign = resources.filter((r) => !r.includes("${aws_") && !r.includes(`:${accountId}:`));
      return foreign.length
        ? `${label(doc, s)}: resources outside this stack and account: ${foreign.join(", ")}`
        : undefined;
    }),
    resource: each(ofKind("resource"), (doc, s) => {
      if (list(s.Resource).includes("*")) return `${label(doc, s)}: applies to "*"`;
      return s.Effect === "Allow" ? principalProblem(doc, s, accountId) : undefined;
    }),
    key: [
      // The first statement is the account's, with named actions (in a key policy "*" is the key itself).
      ...ofKind("key")
        .filter(
          (doc) =>
            !(
              doc.statements[0]?.Sid === "AccountDelegatesToIam" &&
              JSON.stringify(doc.statements[0].Principal) === JSON.stringify({ AWS: `arn:aws:iam::${accountId}:root` })
            ),
        )
        .map((doc) => `${doc.address}: the first statement is not the account's delegation to IAM`),
      ...each(ofKind("key"), (doc, s) => (s.Effect === "Allow" ? principalProblem(doc, s, accountId) : undefined)),
    ],
    trust: ofKind("trust").flatMap((doc) => {
      const [s, ...more] = doc.statements;
      if (more.length) return [`${doc.address}: ${doc.statements.length} trust statements`];
      const services = list(s.Principal === "*" ? undefined : s.Principal?.Service);
      if (
        s.Effect !== "Allow" ||
        list(s.Action).join() !== "sts:AssumeRole" ||
        services.length !== 1 ||
        Object.keys(s.Principal ?? {}).join() !== "Service"
      ) {
        return [`${doc.address}: not one service assuming the role: ${JSON.stringify(s)}`];
      }
      const [service] = services;
      if (!s.Condition)
        return service in SERVICES_WITHOUT_SOURCE_CONDITIONS
          ? []
          : [`${doc.address}: ${service} trusted without aws:SourceAccount/aws:SourceArn`];
      const problems: string[] = [];
      if (s.Condition.StringEquals?.["aws:SourceAccount"] !== accountId)
        problems.push(`${doc.address}: aws:SourceAccount is not ${accountId}`);
      const arns = list(s.Condition.ArnLike?.["aws:SourceArn"] as string | string[] | undefined);
      if (arns.length === 0) problems.push(`${doc.address}: no aws:SourceArn`);
      for (const arn of arns)
        if (!arn.startsWith(`arn:aws:${service.split(".")[0]}:${region}:${accountId}:`))
          problems.push(`${doc.address}: aws:SourceArn ${arn} is not ${service}'s in this account and region`);
      return problems;
    }),
  };
}

describe.each(synthAll().map((e) => [e.config.name, e] as const))(
  "%s: every policy document",
  (_env, { config, json }) => {
    const docs = policyDocuments(json);
    const found = audit(json, defined(config.accountId, "the environment's account id"), config.region);

    it("is found by the walk, and every kind of document is one the walk classifies", () => {
      const kinds = new Set(docs.map((d) => `${d.type}.${d.attribute}`));
      for (const expected of [
        "aws_iam_role.assume_role_policy",
        "aws_iam_role_policy.policy",
        "aws_kms_key.policy",
        "aws_s3_bucket_policy.policy",
        "aws_sqs_queue_policy.policy",
        "aws_sns_topic_policy.policy",
      ]) {
        expect(kinds).toContain(expected);
      }
      // One trust policy per role, one key policy per key: nothing is missed.
      expect(docs.filter((d) => kindOf(d) === "trust")).toHaveLength(Object.keys(json.resource.aws_iam_role).length);
      expect(docs.filter((d) => kindOf(d) === "key")).toHaveLength(Object.keys(json.resource.aws_kms_key).length);
      expect(found.unclassified).toEqual([]);
    });

    it("allows named actions only: no '*', no 'service:*', no partial wildcard, no NotAction, NotResource or NotPrincipal", () => {
      expect(found.wildcardActions).toEqual([]);
    });

    it("never allows anyone: no '*' or {AWS: '*'} principal in an Allow", () => {
      expect(found.anyPrincipal).toEqual([]);
    });

    it("identity policies: no principal; '*' resources only for actions AWS cannot scope; every other resource is this stack's or this account's", () => {
      expect(found.identity).toEqual([]);
    });

    it("resource policies (bucket, queue, topic): on their own resource, to this account's roles or to a service pinned to this account", () => {
      expect(found.resource).toEqual([]);
    });

    it("key policies: the account (which delegates to IAM) first, and services pinned to this account's resources", () => {
      expect(found.key).toEqual([]);
    });

    it("trust policies: exactly one service, pinned to this account and to its source ARNs where the service sends them", () => {
      expect(found.trust).toEqual([]);
    });
  },
);

it("the walk catches each kind of violation wherever a module puts it", () => {
  const { config } = defined(
    synthAll().find((e) => e.config.name === "dev"),
    "the dev stack",
  );
  const account = defined(config.accountId, "the dev account id");
  const json = synthWithMetadata(config, (stack) => {
    const scope = new Construct(stack, "fixture-bad");
    const doc = (statements: object[]) => JSON.stringify({ Version: "2012-10-17", Statement: statements });
    const role = new IamRole(scope, "role", {
      name: "bad",
      assumeRolePolicy: doc([
        { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
      ]),
    });
    new IamRolePolicy(scope, "wild", {
      role: role.id,
      policy: doc([{ Effect: "Allow", Action: "s3:*", Resource: "arn:aws:s3:::someone-elses-bucket/*" }]),
    });
    new IamRolePolicy(scope, "star", {
      role: role.id,
      policy: doc([{ Effect: "Allow", Action: "sqs:SendMessage", Resource: "*" }]),
    });
    new S3BucketPolicy(scope, "open", {
      bucket: "x",
      policy: doc([{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::x/*" }]),
    });
    new SnsTopicPolicy(scope, "unpinned", {
      arn: "arn:aws:sns:eu-west-1:1:x",
      policy: doc([
        {
          Effect: "Allow",
          Principal: { Service: "events.amazonaws.com" },
          Action: "sns:Publish",
          Resource: "arn:aws:sns:eu-west-1:1:x",
        },
      ]),
    });
    new SecretsmanagerSecretPolicy(scope, "foreign", {
      secretArn: "arn:x",
      policy: doc([
        {
          Effect: "Allow",
          Principal: { AWS: "arn:aws:iam::999999999999:root" },
          Action: "secretsmanager:GetSecretValue",
          Resource: "arn:x",
        },
      ]),
    });
    new SsmDocument(scope, "unknown", {
      name: "d",
      documentType: "Command",
      content: doc([{ Effect: "Allow", Action: "ssm:GetParameter", Resource: "*" }]),
    });
  });
  const found = audit(json, account, config.region);
  const mine = (rule: Rule) => found[rule].filter((v) => v.includes("fixture-bad"));
  expect(mine("wildcardActions")).toEqual([expect.stringContaining("allows s3:*")]);
  expect(mine("anyPrincipal")).toEqual([expect.stringContaining("allows any principal")]);
  expect(mine("identity")).toHaveLength(2);
  expect(mine("identity")).toEqual(
    expect.arrayContaining([
      expect.stringContaining("outside this stack and account: arn:aws:s3:::someone-elses-bucket/*"),
      expect.stringContaining('"*" for sqs:SendMessage'),
    ]),
  );
  expect(mine("resource")).toHaveLength(3);
  expect(mine("resource")).toEqual(
    expect.arrayContaining([
      expect.stringContaining("no principal"), // the "*" principal of the open bucket
      expect.stringContaining("service principal without a source condition"),
      expect.stringContaining("AWS principal arn:aws:iam::999999999999:root is not this account's"),
    ]),
  );
  expect(mine("trust")).toEqual([
    expect.stringContaining("lambda.amazonaws.com trusted without aws:SourceAccount/aws:SourceArn"),
  ]);
  expect(mine("unclassified")).toEqual([expect.stringContaining("aws_ssm_document")]);
});

/** Who an Allow in a resource or key policy admits: this account's roles, or one service pinned to this account. */
function principalProblem(doc: PolicyDocument, s: Statement, accountId: string): string | undefined {
  if (!s.Principal || s.Principal === "*") return `${label(doc, s)}: no principal`;
  const kinds = Object.keys(s.Principal);
  if (kinds.some((k) => k !== "AWS" && k !== "Service")) return `${label(doc, s)}: principal kinds ${kinds.join(", ")}`;
  for (const aws of list(s.Principal.AWS)) {
    if (
      !aws.startsWith("${aws_iam_role.") &&
      aws !== `arn:aws:iam::${accountId}:root` &&
      !aws.startsWith(`arn:aws:iam::${accountId}:role/`)
    ) {
      return `${label(doc, s)}: AWS principal ${aws} is not this account's`;
    }
  }
  if (list(s.Principal.Service).length) {
    // aws:SourceAccount / aws:SourceArn, or (for CloudWatch Logs on a key) the encryption context naming our log groups.
    const pins = Object.values(s.Condition ?? {}).flatMap((block) => Object.entries(block));
    const pinned = pins.filter(
      ([key]) => key === "aws:SourceAccount" || key === "aws:SourceArn" || key.startsWith("kms:EncryptionContext:"),
    );
    if (pinned.length === 0) return `${label(doc, s)}: service principal without a source condition`;
    if (
      !pinned.every(([, value]) =>
        list(value as string | string[]).every((v) => v.includes(accountId) || v.startsWith("${aws_")),
      )
    ) {
      return `${label(doc, s)}: source condition outside this account: ${JSON.stringify(s.Condition)}`;
    }
  }
  return undefined;
}
