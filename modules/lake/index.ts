/**
 * The data lake: one bucket and one KMS key per zone (raw, processed, consumer, quarantine),
 * plus an access-log bucket every zone logs to. Zones are isolated by key, so a reader of the
 * consumer zone cannot decrypt raw data even if a bucket policy is loosened by mistake.
 *
 * Other modules never write S3 policies: they call `grantRead`/`grantWrite` with a zone and prefix.
 */
import { Construct } from "constructs";
import { ZONES, type Zone } from "../../datasets";
import type { Tiering } from "../../environments";
import { EncryptionKey } from "../shared/encryption-key";
import type { IGrantable } from "../shared/iam";
import type { Naming } from "../shared/naming";
import { stackOutput } from "../shared/outputs";
import { SecureBucket, type ReadOptions, type WriteOptions } from "../shared/secure-bucket";

export interface LakeZone {
  readonly zone: Zone;
  readonly bucket: SecureBucket;
  readonly key: EncryptionKey;
}

export interface LakeProps {
  readonly naming: Naming;
  readonly accountId: string;
  readonly region: string;
  /** Storage tiers per zone (from the environment's `lake.lifecycle`). */
  readonly lifecycle: Readonly<Record<Zone, Tiering>>;
  /** Days old object versions of the zone buckets are kept (the environment's `lake.noncurrentVersionExpirationDays`). */
  readonly noncurrentVersionExpirationDays: number;
  /** Days access logs are kept (the environment's `lake.accessLogRetentionDays`). */
  readonly accessLogRetentionDays: number;
  /** Let destroy delete non-empty zone buckets (disposable environments only). @default false */
  readonly forceDestroy?: boolean;
}

export class Lake extends Construct {
  readonly zones: Readonly<Record<Zone, LakeZone>>;
  /** Receives the server access logs of every zone bucket (SSE-S3: log delivery cannot use KMS). */
  readonly accessLogs: SecureBucket;

  constructor(scope: Construct, id: string, props: LakeProps) {
    super(scope, id);
    const { naming, accountId, region } = props;
    const protection = { forceDestroy: props.forceDestroy ?? false };

    this.accessLogs = new SecureBucket(this, "access-logs", {
      bucketName: naming.bucket("access-logs"),
      accountId,
      lifecycle: { expireAfterDays: props.accessLogRetentionDays },
      noncurrentVersionExpirationDays: 1, // log objects are never rewritten
      unusedObjectEventsReason:
        "log delivery writes here every few minutes; nothing reacts to a new log object, and events would only add cost",
      ...protection,
    });

    const zones = {} as Record<Zone, LakeZone>;
    for (const zone of ZONES) {
      const key = new EncryptionKey(this, `${zone}-key`, {
        naming,
        purpose: `lake-${zone}`,
        accountId,
        region,
      });
      const bucket = new SecureBucket(this, zone, {
        bucketName: naming.bucket(zone),
        accountId,
        encryptionKey: key,
        accessLogs: { bucket: this.accessLogs, prefix: `${zone}/` },
        lifecycle: props.lifecycle[zone],
        noncurrentVersionExpirationDays: props.noncurrentVersionExpirationDays,
        // New raw objects start pipelines (orchestration subscribes to these events).
        eventBridgeNotifications: zone === "raw",
        unusedObjectEventsReason:
          zone === "quarantine"
            ? "the jobs that quarantine rows count them in their run summary and the pipeline alerts on failure; a quarantine object starts nothing"
            : `the pipeline that writes the ${zone} zone continues itself (Step Functions) and emits its own success event; ${zone} objects start nothing`,
        ...protection,
      });
      zones[zone] = { zone, bucket, key };
    }
    this.zones = zones;

    for (const zone of ZONES) {
      stackOutput(
        this,
        `lake_${zone}_bucket_name`,
        zones[zone].bucket.bucketName,
        `S3 bucket of the lake's ${zone} zone`,
      );
      stackOutput(
        this,
        `lake_${zone}_kms_key_arn`,
        zones[zone].key.arn,
        `KMS key that encrypts the lake's ${zone} zone (only this zone: a reader of another zone cannot decrypt it)`,
      );
    }
    stackOutput(
      this,
      "lake_access_logs_bucket_name",
      this.accessLogs.bucketName,
      "S3 bucket receiving the server access logs of the lake zone buckets and the platform's other buckets",
    );
  }

  /** Read objects of one zone under `prefix` (e.g. a dataset's folder). */
  grantRead(zone: Zone, grantee: IGrantable, prefix = "", options: ReadOptions = {}): void {
    this.zones[zone].bucket.grantRead(grantee, prefix, options);
  }

  /** Write objects of one zone under `prefix`. `allowDelete` for jobs that overwrite partitions. */
  grantWrite(zone: Zone, grantee: IGrantable, prefix = "", options: WriteOptions = {}): void {
    this.zones[zone].bucket.grantWrite(grantee, prefix, options);
  }

  /** Read and write one zone under `prefix`. */
  grantReadWrite(zone: Zone, grantee: IGrantable, prefix = "", options: WriteOptions & ReadOptions = {}): void {
    this.zones[zone].bucket.grantReadWrite(grantee, prefix, options);
  }

  /** "s3://<bucket>/<prefix>" of a zone, for job arguments and table locations. */
  uri(zone: Zone, prefix = ""): string {
    return `s3://${this.zones[zone].bucket.bucketName}/${prefix}`;
  }
}
