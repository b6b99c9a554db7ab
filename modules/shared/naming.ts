/**
 * The one naming helper. Every physical name in the platform comes from here, so names are
 * predictable ("<project>-<env>-<component>"), unique per account and region where AWS needs it,
 * and checked against AWS length limits at synth instead of failing at apply. ARNs are formatted
 * here too, in the environment's partition.
 */
import { DEFAULT_PARTITION, formatArn, type ArnComponents } from "./arn";

export interface NamingProps {
  /** Project slug, e.g. "dataplat". */
  readonly project: string;
  /** Environment name, e.g. "dev". */
  readonly environment: string;
  /** Account id; part of bucket names because bucket names are global across all accounts. */
  readonly accountId?: string;
  readonly region: string;
  /** AWS partition ARNs are formatted in (the environment's `partition`). @default DEFAULT_PARTITION */
  readonly partition?: string;
}

/** AWS limits that matter for the names we generate. */
const LIMITS = {
  name: 64, // IAM roles, Lambda functions, SQS queues, state machines, Glue jobs (lowest common limit)
  bucket: 63,
  glue: 255,
  alias: 256,
} as const;

/** Limits of names derived from names that already passed `name()`, which `bounded` shortens to fit. */
export const DERIVED_NAME_LIMITS = {
  eventRule: 64,
  alarm: 255,
} as const;
export type DerivedNameKind = keyof typeof DERIVED_NAME_LIMITS;

export class Naming {
  /** "<project>-<env>": the prefix of every name and the value IAM policies can match on. */
  readonly prefix: string;
  /** The partition of every ARN `arn()` formats. */
  readonly partition: string;

  constructor(private readonly props: NamingProps) {
    this.prefix = `${props.project}-${props.environment}`;
    this.partition = props.partition ?? DEFAULT_PARTITION;
  }

  /** An ARN in this environment's partition: `arn({ service: "iam", account, resource: "root" })`. */
  arn(components: Omit<ArnComponents, "partition">): string {
    return formatArn({ ...components, partition: this.partition });
  }

  /**
   * A name derived from other names (an alarm after its resource, a rule after its job), shortened
   * to AWS's limit for `kind` where needed; a hash of the full name keeps shortened names unique.
   */
  bounded(name: string, kind: DerivedNameKind): string {
    return boundedName(name, DERIVED_NAME_LIMITS[kind]);
  }

  /** A hyphenated resource name: `name("api", "ingest")` → "dataplat-dev-api-ingest". */
  name(...parts: string[]): string {
    return this.check(this.join("-", [this.prefix, ...parts]), LIMITS.name, "resource name");
  }

  /** A globally unique bucket name: "<prefix>-<purpose>-<account>-<region>". */
  bucket(purpose: string): string {
    const parts = [this.prefix, purpose, this.props.accountId, this.props.region].filter((p): p is string => !!p);
    return this.check(this.join("-", parts), LIMITS.bucket, "S3 bucket name");
  }

  /** A Glue/Athena identifier (lowercase, underscores): `glue("raw")` → "dataplat_dev_raw". */
  glue(...parts: string[]): string {
    return this.check(this.join("_", [this.prefix, ...parts]).replace(/-/g, "_"), LIMITS.glue, "Glue name");
  }

  /** A KMS alias: "alias/<prefix>-<purpose>". */
  kmsAlias(purpose: string): string {
    return this.check(`alias/${this.join("-", [this.prefix, purpose])}`, LIMITS.alias, "KMS alias");
  }

  private join(separator: string, parts: string[]): string {
    return parts.map((p) => p.toLowerCase()).join(separator);
  }

  private check(name: string, limit: number, what: string): string {
    if (name.length > limit) {
      throw new Error(
        `${what} "${name}" is ${name.length} characters; AWS allows ${limit}. Shorten the project, environment or component name.`,
      );
    }
    return name;
  }
}

/** Shortens a name to `limit` characters, keeping it unique with a hash of the full name. */
export function boundedName(name: string, limit: number): string {
  if (name.length <= limit) return name;
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  const suffix = hash.toString(36).padStart(7, "0").slice(0, 7);
  return `${name.slice(0, limit - suffix.length - 1)}-${suffix}`;
}

/**
 * "pipeline-succeeded" / "records_written" / "orders/" → "PipelineSucceeded" / "RecordsWritten" /
 * "Orders": IAM sids, metric names, ids. Every run of characters other than letters and digits
 * separates words, so the result is alphanumeric.
 */
export function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join("");
}
