/**
 * The lake's zones: where a dataset's records are at each step. The lake builds one bucket and key
 * per zone, the catalog one database per zone; a contract says which zones its dataset lives in.
 */

/** Lake zones, in the order data flows through them. */
export const ZONES = ["raw", "processed", "consumer", "quarantine"] as const;
export type Zone = (typeof ZONES)[number];

/**
 * Zones a dataset lives in when its contract does not say: the three its records flow through.
 * Quarantine holds only what a job rejected, so no dataset's tables or crawlers live there.
 */
export const DEFAULT_DATASET_ZONES: readonly Zone[] = ["raw", "processed", "consumer"];

/** Whether a dataset (a resolved contract, or one applied to an environment) lives in `zone`. */
export function livesIn(dataset: { readonly zones: readonly Zone[] }, zone: Zone): boolean {
  return dataset.zones.includes(zone);
}
