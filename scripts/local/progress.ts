/** Step-by-step progress for the main job: numbered steps, timings, a clear failure line. */
export class Progress {
  private step = 0;
  /** Each finished step's title and wall time, in order (the main job's report prints them). */
  readonly timings: { title: string; seconds: number }[] = [];

  constructor(
    private readonly total: number,
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {}

  /** Runs one step, printing "[n/total] title … done (1.2 s)" or the failure, and rethrows on failure. */
  async run<T>(title: string, work: () => Promise<T> | T, detail?: (result: T) => string): Promise<T> {
    this.step++;
    const started = Date.now();
    this.out.write(`[${this.step}/${this.total}] ${title} …\n`);
    try {
      const result = await work();
      const seconds = (Date.now() - started) / 1000;
      this.timings.push({ title, seconds });
      this.out.write(`      ✓ ${detail ? `${detail(result)} ` : ""}(${seconds.toFixed(1)} s)\n`);
      return result;
    } catch (error) {
      this.out.write(`      ✗ failed: ${(error as Error).message.split("\n")[0]}\n`);
      throw new StepError(title, error as Error);
    }
  }
}

/** A failed step: the main job prints it and exits non-zero. */
export class StepError extends Error {
  constructor(
    readonly step: string,
    readonly cause: Error,
  ) {
    super(`${step} failed: ${cause.message}`);
    this.name = "StepError";
  }
}
