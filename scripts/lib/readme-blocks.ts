/**
 * Generated blocks of the README, each between `<!-- generated:<name>:start -->` and
 * `<!-- generated:<name>:end -->`. `npm run docs:diagrams` rewrites them; tests compare.
 */

export function blockMarkers(name: string): { start: string; end: string } {
  return { start: `<!-- generated:${name}:start -->`, end: `<!-- generated:${name}:end -->` };
}

/** Replaces the content between a block's markers (markers kept); throws when they are missing. */
export function replaceBlock(readme: string, name: string, content: string): string {
  const { start, end } = blockMarkers(name);
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md has no ${start} … ${end} block`);
  return `${readme.slice(0, from)}${start}\n${content.trim()}\n${end}${readme.slice(to + end.length)}`;
}

/** The content between a block's markers, or undefined. */
export function readBlock(readme: string, name: string): string | undefined {
  const { start, end } = blockMarkers(name);
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  return from < 0 || to < from ? undefined : readme.slice(from + start.length, to).trim();
}

/** A Markdown table cell: pipes escaped, line breaks flattened. */
export function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}
