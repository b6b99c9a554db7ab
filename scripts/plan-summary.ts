/**
 * Plan summaries for pull requests and drift reports.
 *
 *   terraform show -json tfplan > plan.json
 *   npm run -s plan:summary -- summarize --environment dev plan.json > dev.summary.json
 *   npm run -s plan:summary -- render [--expect dev,staging,prod] [--title T] [--subtitle S] *.summary.json > comment.md
 *
 * `render` also accepts plan JSON files named `<environment>=<file>` directly.
 */
import { readFileSync } from "node:fs";
import { PlanJson, PlanSummary, renderSummaries, summarizePlan } from "./lib/plan-summary";

function usage(): never {
  console.error(
    "usage: npm run -s plan:summary -- summarize --environment <env> <plan.json>\n" +
      "       npm run -s plan:summary -- render [--expect a,b,c] [--title T] [--subtitle S] <summary.json | env=plan.json>...",
  );
  process.exit(2);
}

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined) usage();
  args.splice(i, 2);
  return value;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function main(argv: string[]): void {
  const [command, ...args] = argv;
  if (command === "summarize") {
    const environment = option(args, "--environment");
    if (!environment || args.length !== 1) usage();
    process.stdout.write(`${JSON.stringify(summarizePlan(readJson(args[0]) as PlanJson, environment), null, 2)}\n`);
    return;
  }
  if (command === "render") {
    const expected = option(args, "--expect")?.split(",").filter(Boolean);
    const title = option(args, "--title");
    const subtitle = option(args, "--subtitle");
    const summaries: PlanSummary[] = args.map((arg) => {
      const eq = arg.indexOf("=");
      if (eq > 0) return summarizePlan(readJson(arg.slice(eq + 1)) as PlanJson, arg.slice(0, eq));
      const summary = readJson(arg) as PlanSummary;
      if (typeof summary?.environment !== "string" || !summary.totals)
        throw new Error(`${arg}: not a plan summary (make one with \`plan:summary -- summarize\`)`);
      return summary;
    });
    process.stdout.write(renderSummaries(summaries, { expected, title, subtitle }));
    return;
  }
  usage();
}

try {
  main(process.argv.slice(2));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
