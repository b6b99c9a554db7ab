/**
 * Where one pipeline run's records live, in the quarantine zone: what it was asked to read (its
 * manifest) and what each job did (its run summary). Every key carries the execution name, so no
 * run overwrites another's, and a redriven execution (same name) finds its own manifest again.
 *
 *   pipeline-manifests/<dataset>/<execution>.json             the execution's input, verbatim
 *   <dataset>/raw_to_processed/runs/<execution>.json          raw → processed run summary ("touched" partitions)
 *   <dataset>/processed_to_consumer/runs/<execution>.json     processed → consumer run summary
 *
 * The orchestration module writes manifests and passes these paths to the jobs; the ingestion
 * module grants the job roles on them; the rerun command reads them back. One definition here.
 */

/** Root of every dataset's manifests. Not a dataset folder: dataset names are identifiers, without "-". */
export const MANIFEST_ROOT = "pipeline-manifests/";

/** The pipeline jobs that keep a run summary per execution. */
export type RunJob = "raw_to_processed" | "processed_to_consumer";

/** `<dataset prefix>` is the dataset's folder, "<name>/". */
export const runLayout = {
  /** Folder of one dataset's manifests: "pipeline-manifests/<name>/". */
  manifestPrefix: (datasetPrefix: string): string => `${MANIFEST_ROOT}${datasetPrefix}`,
  manifestKey: (datasetPrefix: string, executionName: string): string =>
    `${MANIFEST_ROOT}${datasetPrefix}${executionName}.json`,
  /** Folder of one job's run summaries: "<name>/<job>/runs/". */
  summaryPrefix: (datasetPrefix: string, job: RunJob): string => `${datasetPrefix}${job}/runs/`,
  summaryKey: (datasetPrefix: string, job: RunJob, executionName: string): string =>
    `${datasetPrefix}${job}/runs/${executionName}.json`,
  /** Folder of one job's quarantined rows (the job lays them out per source object below it). */
  quarantinePrefix: (datasetPrefix: string, job: RunJob): string => `${datasetPrefix}${job}/`,
} as const;
