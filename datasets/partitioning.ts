/**
 * One partition spec, every place that depends on it. The environment's `partitioning.keys`
 * becomes, through this class only:
 *  - the Hive path of a partition            (`path`)               → where writers put files
 *  - Glue table partition keys and projection (`glueColumns`, `projectionParameters`)
 *  - Firehose dynamic-partitioning prefix and JQ query (`firehosePrefix`, `firehoseQuery`)
 *  - the Spark job's partitioning argument    (`sparkSpec`)          → Glue `partitionBy`
 *  - Athena predicates that prune partitions  (`athenaPredicate`)
 * A test renders all of them for every environment and checks they agree.
 */
import type { PartitionKey, PartitionSpec } from "../environments";

/** How a job derives each partition value from a record (what the Spark job and Firehose need). */
export interface PartitionSource {
  readonly name: string;
  readonly type: PartitionKey["type"];
  /** Column the value comes from: the event-time column for date/hour, the same-named column for enum. */
  readonly column: string;
  /** Allowed values of an enum key; rows with other values are quarantined. */
  readonly values?: readonly string[];
  /** First day of a date key's projection range ("yyyy-MM-dd"); earlier rows are quarantined (Athena could not see them). */
  readonly rangeStart?: string;
}

export class PartitionLayout {
  constructor(readonly spec: PartitionSpec) {}

  get keys(): readonly PartitionKey[] {
    return this.spec.keys;
  }

  /** Partition column names, outermost first. */
  get names(): string[] {
    return this.spec.keys.map((k) => k.name);
  }

  /** The date key (the spec always starts with one). */
  get dateKey(): Extract<PartitionKey, { type: "date" }> {
    return this.spec.keys[0] as Extract<PartitionKey, { type: "date" }>;
  }

  /** Enum keys take their value from a data column of the same name. */
  get enumKeys(): Extract<PartitionKey, { type: "enum" }>[] {
    return this.spec.keys.filter((k): k is Extract<PartitionKey, { type: "enum" }> => k.type === "enum");
  }

  /** Where each key's value comes from, for a dataset whose event time is `eventTimeColumn`. */
  sources(eventTimeColumn: string): PartitionSource[] {
    return this.spec.keys.map((k) =>
      k.type === "enum"
        ? { name: k.name, type: k.type, column: k.name, values: k.values }
        : k.type === "date"
          ? { name: k.name, type: k.type, column: eventTimeColumn, rangeStart: k.rangeStart }
          : { name: k.name, type: k.type, column: eventTimeColumn },
    );
  }

  /** Hive-style relative path of one partition: "dt=2024-05-01/region=eu/". */
  path(values: Readonly<Record<string, string>>): string {
    return this.names
      .map((name) => {
        const value = values[name];
        if (value === undefined)
          throw new Error(`partition value for "${name}" is missing (keys: ${this.names.join(", ")})`);
        return `${name}=${value}/`;
      })
      .join("");
  }

  /** Glue table partition keys: strings, as Hive paths carry them. */
  glueColumns(): { name: string; type: "string"; comment: string }[] {
    return this.spec.keys.map((k) => ({ name: k.name, type: "string", comment: describe(k) }));
  }

  /**
   * Partition-projection table parameters for a table stored at `location` ("s3://bucket/prefix/").
   * The `${key}` placeholders of storage.location.template are written `$${key}`: Terraform JSON
   * would otherwise read them as interpolations. The location itself may hold real references.
   */
  projectionParameters(location: string): Record<string, string> {
    const base = location.endsWith("/") ? location : `${location}/`;
    const params: Record<string, string> = { "projection.enabled": "true" };
    for (const k of this.spec.keys) {
      const p = `projection.${k.name}`;
      if (k.type === "date") {
        Object.assign(params, {
          [`${p}.type`]: "date",
          [`${p}.format`]: k.format,
          [`${p}.range`]: `${k.rangeStart},NOW`,
          [`${p}.interval`]: "1",
          [`${p}.interval.unit`]: "DAYS",
        });
      } else if (k.type === "hour") {
        Object.assign(params, { [`${p}.type`]: "integer", [`${p}.range`]: "0,23", [`${p}.digits`]: "2" });
      } else {
        Object.assign(params, { [`${p}.type`]: "enum", [`${p}.values`]: k.values.join(",") });
      }
    }
    params["storage.location.template"] = base + this.names.map((n) => `${n}=$\${${n}}/`).join("");
    return params;
  }

  /** Firehose S3 prefix for a dataset, filled by dynamic partitioning: "clickstream/dt=!{partitionKeyFromQuery:dt}/". */
  firehosePrefix(datasetPrefix: string): string {
    const base = datasetPrefix.endsWith("/") ? datasetPrefix : `${datasetPrefix}/`;
    return base + this.names.map((n) => `${n}=!{partitionKeyFromQuery:${n}}/`).join("");
  }

  /**
   * Firehose metadata-extraction JQ query producing every partition value from a JSON record whose
   * event time is an ISO-8601 string in `eventTimeField` ("2024-05-01T13:45:00Z").
   */
  firehoseQuery(eventTimeField: string): string {
    const parts = this.spec.keys.map((k) => {
      if (k.type === "date") return `${k.name}: .${eventTimeField}[0:10]`;
      if (k.type === "hour") return `${k.name}: .${eventTimeField}[11:13]`;
      return `${k.name}: .${k.name}`;
    });
    return `{${parts.join(", ")}}`;
  }

  /** The job argument the Spark scripts read (`--partition_spec`): keys, types and sources as JSON. */
  sparkSpec(eventTimeColumn: string): string {
    return JSON.stringify({ keys: this.sources(eventTimeColumn) });
  }

  /**
   * An Athena WHERE clause selecting one day (all hours and enum values of it), for `alias.`-qualified
   * columns when `alias` is given. Always constrains the date key, so projection prunes to one day.
   */
  athenaPredicate(day: string, alias?: string): string {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new Error(`day must be yyyy-MM-dd (got "${day}")`);
    return `${alias ? `${alias}.` : ""}${this.dateKey.name} = '${day}'`;
  }
}

function describe(k: PartitionKey): string {
  if (k.type === "date") return `event date (${k.format})`;
  if (k.type === "hour") return "event hour (00-23)";
  return `one of ${k.values.join(", ")}`;
}
