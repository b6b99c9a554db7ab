/**
 * The one naming helper. Every physical name in the platform comes from here, so names are
 * predictable ("<project>-<env>-<component>"), unique per account and region where AWS needs it,
 * and checked against AWS length limits at synth instead of failing at apply.
 */

export interface NamingProps {
  /** Project slug, e.g. "dataplat". */
  readonly project: string;
  /** Environment name, e.g. "dev". */
  readonly environment: string;
  /** Account id; part of bucket names because bucket names are global across all accounts. */
  readonly accountId?: string;
  readonly region: string;
}

/** AWS limits that matter for the names we generate. */
const LIMITS = {
  name: 64, // IAM roles, Lambda functions, SQS queues, state machines, Glue jobs (lowest common limit)
  bucket: 63,
  glue: 255,
  alias: 256,
} as const;

export class Naming {
  /** "<project>-<env>": the prefix of every name and the value IAM policies can match on. */
  readonly prefix: string;

  constructor(private readonly props: NamingProps) {
    this.prefix = `${props.project}-${props.environment}`;
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
      throw new Error(`${what} "${name}" is ${name.length} characters; AWS allows ${limit}. Shorten the project, environment or component name.`);
    }
    return name;
  }
}
