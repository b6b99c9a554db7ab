/**
 * An S3 bucket with the platform's security baseline, used for every bucket we create:
 * versioning, public access blocked, ACLs disabled, default encryption (a KMS key, or SSE-S3 for
 * the access-log bucket, which S3 log delivery requires), a policy that denies non-TLS access and
 * writes that ask for other encryption, server access logging, and lifecycle tiers.
 * Access is granted with `grantRead`/`grantWrite`, scoped to the bucket, a prefix and the key.
 */
import { Lazy } from "cdktf";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import {
  S3BucketLifecycleConfiguration,
  S3BucketLifecycleConfigurationRule,
} from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketLoggingA } from "@cdktf/provider-aws/lib/s3-bucket-logging";
import { S3BucketNotification } from "@cdktf/provider-aws/lib/s3-bucket-notification";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { Construct } from "constructs";
import type { Tiering } from "../../environments";
import type { EncryptionKey } from "./encryption-key";
import { IGrantable, KeptReason, PolicyStatement, keptList, policyDocument, sidOf } from "./iam";
import { skipPolicyCheck } from "./policy-checks";

export interface AccessLogTarget {
  readonly bucket: SecureBucket;
  /** Key prefix for this bucket's logs, e.g. "raw/". */
  readonly prefix: string;
}

export interface SecureBucketProps {
  readonly bucketName: string;
  /**
   * Key for default encryption and for the "right key only" write rule.
   * @default SSE-S3 (only for the access-log bucket: S3 log delivery cannot write with SSE-KMS)
   */
  readonly encryptionKey?: EncryptionKey;
  /**
   * Where server access logs go.
   * @default no logging (only for the access-log bucket itself, which must not log into itself)
   */
  readonly accessLogs?: AccessLogTarget;
  /** Storage tiers for current objects. @default no transitions, no expiry */
  readonly lifecycle?: Tiering;
  /** Days old object versions are kept. No default: each bucket states how long its old versions matter. */
  readonly noncurrentVersionExpirationDays: number;
  /** Let `terraform destroy` delete a non-empty bucket. @default false */
  readonly forceDestroy?: boolean;
  /** Send object events to EventBridge. @default false */
  readonly eventBridgeNotifications?: boolean;
  /**
   * Why nothing needs this bucket's object events, when `eventBridgeNotifications` is off: the
   * reason recorded for the policy scan's "event notifications" check (CKV2_AWS_62).
   * @default DEFAULT_UNUSED_OBJECT_EVENTS_REASON
   */
  readonly unusedObjectEventsReason?: string;
  /** Account that owns the bucket, for the log-delivery `aws:SourceAccount` condition. */
  readonly accountId: string;
}

/** Days after which incomplete multipart uploads are aborted: they cost money and are never read. */
const ABORT_MULTIPART_AFTER_DAYS = 7;

/** Why a bucket sends no object events, unless its owner says more precisely. */
export const DEFAULT_UNUSED_OBJECT_EVENTS_REASON =
  "nothing reacts to this bucket's object events: pipelines start from raw-zone Object Created events only";

/** Why no bucket replicates to a second region (CKV_AWS_144). */
export const NO_REPLICATION_REASON =
  "single-region platform: versioning, 30-day noncurrent versions and prod prevent_destroy guard against loss, and zones rebuild from their sources; a second-region replica is a disaster-recovery decision not taken yet";

/** Why the access-log bucket uses SSE-S3 (CKV_AWS_145). */
export const ACCESS_LOG_ENCRYPTION_REASON =
  "S3 server access logging cannot deliver to a bucket whose default encryption is SSE-KMS, so the access-log bucket uses SSE-S3 (AES-256)";

/** What every grant method takes. */
export interface GrantOptions {
  /**
   * The words the statement ids are made of, for a prefix that holds a physical name (and would
   * make the sid differ per environment).
   * @default the prefix
   */
  readonly name?: string;
  /** Why the grant stays where a run may not use it (the unused-access report). @default none */
  readonly keptBecause?: KeptReason | readonly KeptReason[];
}

/** How `grantRead` reads a prefix. */
export interface ReadOptions extends GrantOptions {
  /** Also the folder's own key, which Spark's S3 file systems stat. @default false */
  readonly folderKey?: boolean;
}

/** How `grantWrite` writes a prefix. */
export interface WriteOptions extends GrantOptions {
  /** Also delete objects: jobs that overwrite a partition need it, appenders do not. @default false */
  readonly allowDelete?: boolean;
}

/** Listing a prefix: kept on every read grant, for what the emulated clients do not call. */
const LIST_REASONS: readonly KeptReason[] = [
  {
    reason:
      "the SDKs, Hadoop's S3A and AWS services ask a bucket's region before using it when the client is not told; the emulator's clients are",
    actions: ["s3:GetBucketLocation"],
    citation: "https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLocation.html",
  },
  {
    reason:
      "without it a key that does not exist reads as 403 AccessDenied, not 404 NoSuchKey: readers that treat a missing object as empty, and Spark listing a folder, need it; a run that reads only keys it knows lists nothing",
    actions: ["s3:ListBucket"],
    citation: "https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_Permissions",
  },
];

/** Deleting under a prefix: only an overwrite deletes. */
const DELETE_REASON: KeptReason = {
  reason:
    "an overwrite (a repeated or redriven run, a partition rebuilt for a late record) deletes what it replaces; a run onto new keys deletes nothing",
  actions: ["s3:DeleteObject"],
  varies: true,
};

/**
 * Multipart uploads: a writer (the SDKs' transfer managers, Spark's S3A committer, Firehose) splits
 * a large object into parts, lists them, and aborts a failed upload. Whether a run uploads in parts
 * depends on object size, so these are exercised in some runs only.
 */
const MULTIPART_REASONS: readonly KeptReason[] = [
  {
    reason:
      "multipart uploads of large objects list their parts and abort on failure; small objects are written in one PUT",
    actions: ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
    citation: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions",
    varies: true,
  },
];

export class SecureBucket extends Construct {
  readonly bucket: S3Bucket;
  readonly bucketName: string;
  readonly arn: string;
  readonly encryptionKey?: EncryptionKey;
  readonly policy: S3BucketPolicy;
  private readonly extraStatements: PolicyStatement[] = [];

  constructor(
    scope: Construct,
    id: string,
    private readonly props: SecureBucketProps,
  ) {
    super(scope, id);
    this.encryptionKey = props.encryptionKey;
    this.bucket = new S3Bucket(this, "bucket", {
      bucket: props.bucketName,
      forceDestroy: props.forceDestroy ?? false,
    });
    skipPolicyCheck(this.bucket, "CKV_AWS_144", NO_REPLICATION_REASON);
    if (!props.encryptionKey) skipPolicyCheck(this.bucket, "CKV_AWS_145", ACCESS_LOG_ENCRYPTION_REASON);
    if (!props.eventBridgeNotifications) {
      skipPolicyCheck(
        this.bucket,
        "CKV2_AWS_62",
        props.unusedObjectEventsReason ?? DEFAULT_UNUSED_OBJECT_EVENTS_REASON,
      );
    }
    this.bucketName = this.bucket.bucket;
    this.arn = this.bucket.arn;
    const bucket = this.bucket.id;

    new S3BucketOwnershipControls(this, "ownership", {
      bucket,
      rule: { objectOwnership: "BucketOwnerEnforced" }, // ACLs off: access is decided by policies only
    });
    new S3BucketPublicAccessBlock(this, "public-access-block", {
      bucket,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketVersioningA(this, "versioning", { bucket, versioningConfiguration: { status: "Enabled" } });
    new S3BucketServerSideEncryptionConfigurationA(this, "encryption", {
      bucket,
      rule: [
        props.encryptionKey
          ? {
              applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: props.encryptionKey.arn },
              bucketKeyEnabled: true, // one data key per bucket instead of per object: ~99% fewer KMS calls
            }
          : { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } },
      ],
    });
    this.policy = new S3BucketPolicy(this, "policy", {
      bucket,
      policy: Lazy.stringValue({
        produce: () => policyDocument([...this.baselineStatements(), ...this.extraStatements]),
      }),
    });
    if (props.accessLogs) {
      new S3BucketLoggingA(this, "logging", {
        bucket,
        targetBucket: props.accessLogs.bucket.bucket.id,
        targetPrefix: props.accessLogs.prefix,
        // S3 checks at this call that log delivery may write to the target: its policy must exist first.
        dependsOn: [props.accessLogs.bucket.policy],
      });
      props.accessLogs.bucket.acceptAccessLogsFrom(this);
    }
    new S3BucketLifecycleConfiguration(this, "lifecycle", {
      bucket,
      rule: lifecycleRules(props.lifecycle ?? {}, props.noncurrentVersionExpirationDays),
    });
    if (props.eventBridgeNotifications) {
      new S3BucketNotification(this, "notifications", { bucket, eventbridge: true });
    }
  }

  /** Adds a statement to the bucket policy (e.g. a service principal that delivers into it). */
  addToResourcePolicy(statement: PolicyStatement): void {
    this.extraStatements.push(statement);
  }

  /**
   * List and read objects under `prefix` (and decrypt them through S3). `folderKey` adds the
   * folder's own key (`prefix` without its slash) for Spark readers: Hadoop's S3 file systems (S3A,
   * EMRFS) stat a folder by HEAD-ing that key before they list it, and without it the stat is
   * AccessDenied rather than a 404.
   */
  grantRead(grantee: IGrantable, prefix = "", options: ReadOptions = {}): void {
    const kept = options.keptBecause ? { keptBecause: options.keptBecause } : {};
    grantee.addToPolicy({
      sid: this.sid(options.name ?? prefix, "List"),
      actions: ["s3:GetBucketLocation", "s3:ListBucket"],
      resources: [this.arn],
      ...(prefix ? { conditions: { StringLike: { "s3:prefix": [`${prefix}*`] } } } : {}),
      keptBecause: [...LIST_REASONS, ...keptList(options.keptBecause)],
    });
    const folderKey = options.folderKey && prefix.endsWith("/") ? [`${this.arn}/${prefix.slice(0, -1)}`] : [];
    grantee.addToPolicy({
      sid: this.sid(options.name ?? prefix, "Read"),
      actions: ["s3:GetObject"],
      resources: [this.objects(prefix), ...folderKey],
      ...kept,
    });
    this.encryptionKey?.grantDecrypt(grantee, "s3", options.keptBecause);
  }

  /**
   * Write objects under `prefix` (and encrypt them through S3). Deleting is separate and opt-in:
   * jobs that overwrite a partition need it, appenders do not.
   */
  grantWrite(grantee: IGrantable, prefix = "", options: WriteOptions = {}): void {
    grantee.addToPolicy({
      sid: this.sid(options.name ?? prefix, "Write"),
      actions: [
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
        ...(options.allowDelete ? ["s3:DeleteObject"] : []),
      ],
      resources: [this.objects(prefix)],
      keptBecause: [
        ...MULTIPART_REASONS,
        ...(options.allowDelete ? [DELETE_REASON] : []),
        ...keptList(options.keptBecause),
      ],
    });
    this.encryptionKey?.grantEncryptDecrypt(grantee, "s3", options.keptBecause);
  }

  /** Read and write under `prefix`. */
  grantReadWrite(grantee: IGrantable, prefix = "", options: WriteOptions & ReadOptions = {}): void {
    this.grantRead(grantee, prefix, options);
    this.grantWrite(grantee, prefix, options);
  }

  /** "<bucket construct id><prefix or name words><what>", e.g. "RawOrdersRead". */
  private sid(words: string, what: string): string {
    return sidOf(this.node.id, words, what);
  }

  /** ARN pattern of the objects under a prefix. */
  objects(prefix = ""): string {
    return `${this.arn}/${prefix}*`;
  }

  /** Lets S3 log delivery write the access logs of `source` into this bucket. */
  private acceptAccessLogsFrom(source: SecureBucket): void {
    this.extraStatements.push({
      sid: `AccessLogsFrom${this.extraStatements.length}`,
      principals: { Service: "logging.s3.amazonaws.com" },
      actions: ["s3:PutObject"],
      resources: [this.objects()],
      conditions: {
        ArnLike: { "aws:SourceArn": source.arn },
        StringEquals: { "aws:SourceAccount": source.props.accountId },
      },
    });
  }

  /** TLS only; and writes may not ask for other encryption than this bucket's key. */
  private baselineStatements(): PolicyStatement[] {
    const statements: PolicyStatement[] = [
      {
        sid: "DenyInsecureTransport",
        effect: "Deny",
        principals: "*",
        actions: ["s3:*"],
        resources: [this.arn, this.objects()],
        conditions: { Bool: { "aws:SecureTransport": "false" } },
      },
    ];
    if (this.encryptionKey) {
      // Absent headers get the bucket default (this key); explicit headers must name this key.
      statements.push(
        {
          sid: "DenyOtherEncryption",
          effect: "Deny",
          principals: "*",
          actions: ["s3:PutObject"],
          resources: [this.objects()],
          conditions: {
            Null: { "s3:x-amz-server-side-encryption": "false" },
            StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
          },
        },
        {
          sid: "DenyOtherKmsKey",
          effect: "Deny",
          principals: "*",
          actions: ["s3:PutObject"],
          resources: [this.objects()],
          conditions: {
            Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "false" },
            StringNotEquals: { "s3:x-amz-server-side-encryption-aws-kms-key-id": this.encryptionKey.arn },
          },
        },
      );
    }
    return statements;
  }
}

function lifecycleRules(tiering: Tiering, noncurrentDays: number): S3BucketLifecycleConfigurationRule[] {
  const transitions = [
    ...(tiering.infrequentAccessAfterDays
      ? [{ days: tiering.infrequentAccessAfterDays, storageClass: "STANDARD_IA" }]
      : []),
    ...(tiering.archiveAfterDays ? [{ days: tiering.archiveAfterDays, storageClass: "GLACIER_IR" }] : []),
  ];
  return [
    {
      id: "current-versions",
      status: "Enabled",
      filter: [{ prefix: "" }],
      ...(transitions.length ? { transition: transitions } : {}),
      ...(tiering.expireAfterDays ? { expiration: [{ days: tiering.expireAfterDays }] } : {}),
      abortIncompleteMultipartUpload: [{ daysAfterInitiation: ABORT_MULTIPART_AFTER_DAYS }],
    },
    {
      id: "noncurrent-versions",
      status: "Enabled",
      filter: [{ prefix: "" }],
      noncurrentVersionExpiration: [{ noncurrentDays }],
    },
  ];
}
