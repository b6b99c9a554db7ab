/**
 * Generated blocks of the docs pages, each between `<!-- generated:<name>:start -->` and
 * `<!-- generated:<name>:end -->`. `npm run docs:diagrams` rewrites them; tests compare.
 */

export function blockMarkers(name: string): { start: string; end: string } {
  return { start: `<!-- generated:${name}:start -->`, end: `<!-- generated:${name}:end -->` };
}

/** Replaces the content between a block's markers (markers kept); throws, naming the file, when they are missing. */
export function replaceBlock(text: string, name: string, content: string, file = "the page"): string {
  const { start, end } = blockMarkers(name);
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${file} has no ${start} … ${end} block`);
  return `${text.slice(0, from)}${start}\n${content.trim()}\n${end}${text.slice(to + end.length)}`;
}

/** The content between a block's markers, or undefined. */
export function readBlock(text: string, name: string): string | undefined {
  const { start, end } = blockMarkers(name);
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  return from < 0 || to < from ? undefined : text.slice(from + start.length, to).trim();
}

/** A Markdown table cell: pipes escaped, line breaks flattened. */
export function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}
