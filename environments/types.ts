import type { EnvironmentInput } from "./schema";

type DeepPartial<T> = T extends readonly unknown[]
  ? T // arrays are replaced, never merged element by element
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** What an environment file writes: only what differs from `base`. Arrays replace, objects merge. */
export type EnvironmentOverride = DeepPartial<EnvironmentInput>;

/** An environment file: an override that at least names itself and its tier. */
export type EnvironmentDefinition = EnvironmentOverride & Pick<EnvironmentInput, "name" | "tier">;
