/**
 * The environment's one CloudWatch dashboard: the pipeline end to end, in the order data flows —
 * ingestion (Lambda, Kinesis, Firehose), landing and triggers (queues, pipes), pipelines (Step
 * Functions), Glue jobs, dead-letter queues, and the state of every alarm. Built from what
 * discovery found, so a new resource shows up without an edit here.
 */

type Metric = readonly (string | Readonly<Record<string, string | number>>)[];

export interface DashboardSection {
  readonly title: string;
  readonly widgets: readonly Widget[];
}

export type Widget =
  | {
      readonly type: "metric";
      readonly title: string;
      readonly metrics: readonly Metric[];
      readonly stat?: string;
      readonly view?: "timeSeries" | "singleValue";
    }
  | { readonly type: "alarm"; readonly title: string; readonly alarms: readonly string[] };

/** A metric line: [namespace, name, dimension, value, ..., { stat, label }]. */
export function metric(
  namespace: string,
  name: string,
  dimensions: Readonly<Record<string, string>>,
  options: Readonly<Record<string, string>> = {},
): Metric {
  return [namespace, name, ...Object.entries(dimensions).flat(), ...(Object.keys(options).length > 0 ? [options] : [])];
}

const GRID = 24;
const WIDTH = 12;
const HEIGHT = 6;
/** CloudWatch shows at most 100 alarms in one alarm-status widget. */
const ALARMS_PER_WIDGET = 100;

/** The dashboard body JSON (may hold Terraform references, resolved when the stack synthesizes). */
export function dashboardBody(
  title: string,
  region: string,
  periodSeconds: number,
  sections: readonly DashboardSection[],
  alarmArns: readonly string[],
): string {
  const widgets: Record<string, unknown>[] = [];
  let y = 0;
  const heading = (markdown: string, height = 1) => {
    widgets.push({ type: "text", x: 0, y, width: GRID, height, properties: { markdown } });
    y += height;
  };
  heading(
    `# ${title}\nRaw objects land → pipelines (Step Functions) run raw → processed → catalog → consumer. ` +
      "Failures alert through SNS; dead letters wait for a redrive (docs/operator-guide.md).",
    2,
  );
  for (const section of sections.filter((s) => s.widgets.length > 0)) {
    heading(`## ${section.title}`);
    let x = 0;
    for (const w of section.widgets) {
      const properties =
        w.type === "metric"
          ? {
              title: w.title,
              region,
              period: periodSeconds,
              view: w.view ?? "timeSeries",
              stacked: false,
              metrics: w.metrics,
              ...(w.stat ? { stat: w.stat } : {}),
            }
          : { title: w.title, alarms: w.alarms };
      widgets.push({ type: w.type, x, y, width: WIDTH, height: HEIGHT, properties });
      x += WIDTH;
      if (x >= GRID) {
        x = 0;
        y += HEIGHT;
      }
    }
    if (x > 0) y += HEIGHT;
  }
  if (alarmArns.length > 0) {
    heading("## Alarms");
    for (let i = 0; i < alarmArns.length; i += ALARMS_PER_WIDGET) {
      widgets.push({
        type: "alarm",
        x: 0,
        y,
        width: GRID,
        height: HEIGHT,
        properties: { title: "Alarm state", alarms: alarmArns.slice(i, i + ALARMS_PER_WIDGET) },
      });
      y += HEIGHT;
    }
  }
  return JSON.stringify({ widgets });
}
