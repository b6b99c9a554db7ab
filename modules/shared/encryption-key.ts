/**
 * A customer-managed KMS key with rotation on, an alias, and a key policy that names its actions.
 * Services that must use the key directly (CloudWatch Logs, SNS publishers, ...) are added with
 * `allowService`, scoped by the confused-deputy conditions; IAM principals get access through
 * `grantEncryptDecrypt`/`grantDecrypt`, which the account-level statement delegates to IAM.
 */
import { Lazy } from "cdktf";
import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { Construct } from "constructs";
import { ConditionBlock, IGrantable, KeptReason, PolicyStatement, keptList, policyDocument, sidOf } from "./iam";
import type { Naming } from "./naming";

/** Every KMS action the account (and through it, IAM policies) may use on the key. Named, not "kms:*". */
const ACCOUNT_KEY_ACTIONS = [
  "kms:CancelKeyDeletion",
  "kms:CreateAlias",
  "kms:CreateGrant",
  "kms:Decrypt",
  "kms:DeleteAlias",
  "kms:DescribeKey",
  "kms:DisableKey",
  "kms:DisableKeyRotation",
  "kms:EnableKey",
  "kms:EnableKeyRotation",
  "kms:Encrypt",
  "kms:GenerateDataKey",
  "kms:GenerateDataKeyWithoutPlaintext",
  "kms:GetKeyPolicy",
  "kms:GetKeyRotationStatus",
  "kms:ListAliases",
  "kms:ListGrants",
  "kms:ListKeyPolicies",
  "kms:ListKeyRotations",
  "kms:ListResourceTags",
  "kms:PutKeyPolicy",
  "kms:ReEncryptFrom",
  "kms:ReEncryptTo",
  "kms:RetireGrant",
  "kms:RevokeGrant",
  "kms:RotateKeyOnDemand",
  "kms:ScheduleKeyDeletion",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:UpdateAlias",
  "kms:UpdateKeyDescription",
] as const;

/**
 * What CloudWatch Logs does with a key that encrypts log groups (AWS's documented key policy);
 * `GenerateDataKeyWithoutPlaintext` only where the caller asks for it.
 */
function logsKeyActions(withoutPlaintextDataKeys: boolean): string[] {
  return [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    ...(withoutPlaintextDataKeys ? ["kms:GenerateDataKeyWithoutPlaintext"] : []),
    "kms:DescribeKey",
  ];
}

export interface EncryptionKeyProps {
  readonly naming: Naming;
  /** What the key protects; used in the alias ("alias/<prefix>-<purpose>") and description. */
  readonly purpose: string;
  readonly accountId: string;
  readonly region: string;
  /**
   * Days a deleted key stays recoverable.
   * @default 30 (the maximum: a lost key makes its data unreadable forever)
   */
  readonly deletionWindowInDays?: number;
}

export class EncryptionKey extends Construct {
  readonly key: KmsKey;
  readonly alias: KmsAlias;
  /** Key ARN: what bucket policies, encryption settings and IAM statements reference. */
  readonly arn: string;
  private readonly serviceStatements: PolicyStatement[] = [];

  constructor(
    scope: Construct,
    id: string,
    private readonly props: EncryptionKeyProps,
  ) {
    super(scope, id);
    const accountRoot = props.naming.arn({ service: "iam", account: props.accountId, resource: "root" });
    this.key = new KmsKey(this, "key", {
      description: `${props.naming.prefix} ${props.purpose}`,
      enableKeyRotation: true,
      deletionWindowInDays: props.deletionWindowInDays ?? 30,
      policy: Lazy.stringValue({
        produce: () =>
          policyDocument([
            {
              sid: "AccountDelegatesToIam",
              principals: { AWS: accountRoot },
              actions: ACCOUNT_KEY_ACTIONS,
              resources: ["*"], // in a key policy "*" means this key
            },
            ...this.serviceStatements,
          ]),
      }),
    });
    this.alias = new KmsAlias(this, "alias", {
      name: props.naming.kmsAlias(props.purpose),
      targetKeyId: this.key.keyId,
    });
    this.arn = this.key.arn;
  }

  /**
   * Lets an AWS service use the key directly (for services that encrypt on their own behalf,
   * e.g. "logs.<region>.amazonaws.com"). Pass the conditions that pin the caller to our resources.
   */
  allowService(sid: string, service: string, actions: readonly string[], conditions: ConditionBlock): void {
    this.serviceStatements.push({ sid, principals: { Service: service }, actions, resources: ["*"], conditions });
  }

  /**
   * Lets CloudWatch Logs in the key's region encrypt the log groups `logGroups` names (an
   * `ArnLike`/`ArnEquals` block on "kms:EncryptionContext:aws:logs:arn").
   */
  allowCloudWatchLogs(
    sid: string,
    logGroups: ConditionBlock,
    options: { readonly withoutPlaintextDataKeys?: boolean } = {},
  ): void {
    this.allowService(
      sid,
      `logs.${this.props.region}.amazonaws.com`,
      logsKeyActions(options.withoutPlaintextDataKeys ?? false),
      logGroups,
    );
  }

  /** Decrypt through one service (e.g. S3), for readers. */
  grantDecrypt(grantee: IGrantable, viaService: string, keptBecause?: KeptReason | readonly KeptReason[]): void {
    grantee.addToPolicy(this.statement("Decrypt", ["kms:Decrypt"], viaService, keptBecause));
  }

  /**
   * Encrypt and decrypt through one service (e.g. S3), for writers. Decrypt is needed by S3
   * multipart uploads (S3 decrypts the upload's data key to assemble the parts).
   */
  grantEncryptDecrypt(grantee: IGrantable, viaService: string, keptBecause?: KeptReason | readonly KeptReason[]): void {
    const kept = [...keptList(keptBecause), ...(viaService === "s3" ? [MULTIPART_DECRYPT] : [])];
    grantee.addToPolicy(this.statement("Encrypt", ["kms:Decrypt", "kms:GenerateDataKey"], viaService, kept));
  }

  private statement(
    what: string,
    actions: string[],
    viaService: string,
    keptBecause?: KeptReason | readonly KeptReason[],
  ): PolicyStatement {
    return {
      sid: sidOf(this.props.purpose, "key", what, "via", viaService),
      actions,
      resources: [this.arn],
      conditions: { StringEquals: { "kms:ViaService": `${viaService}.${this.props.region}.amazonaws.com` } },
      ...(keptList(keptBecause).length ? { keptBecause } : {}),
    };
  }
}

/** A writer's kms:Decrypt through S3: S3 needs it to complete a multipart upload under SSE-KMS. */
const MULTIPART_DECRYPT: KeptReason = {
  reason:
    "S3 decrypts the upload's data key to complete a multipart upload under SSE-KMS; single-PUT writes do not need it",
  actions: ["kms:Decrypt"],
  citation: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions",
  varies: true,
};
