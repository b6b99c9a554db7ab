/**
 * The project's import graph, read with the TypeScript compiler's own pre-processor and module
 * resolution (so `import type`, `export … from`, `import()` and `require()` all count, resolved as
 * tsc resolves them), and the import cycles in it at every level of the folder tree.
 *
 * A cycle between folders is found where it lives: within each folder, its entries (files and
 * sub-folders) form a graph, with an edge from entry A to entry B when any file under A imports
 * any file under B. Every cycle of files is also a cycle among the entries of the deepest folder
 * that holds them all, so checking every folder's entries finds file cycles and folder cycles alike
 * (`datasets → modules → datasets` at the root, `index.ts → lake-formation.ts → index.ts` in a module).
 */
import { relative, resolve, sep } from "node:path";
import * as ts from "typescript";

/** Each project file (relative path, "/"-separated) and the project files it imports. */
export type ImportGraph = ReadonlyMap<string, ReadonlySet<string>>;

/** The files of the tsconfig.json in `root` and their imports of each other (packages are left out). */
export function importGraph(root: string): ImportGraph {
  const configFile = resolve(root, "tsconfig.json");
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configFile,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(`${configFile}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
      },
    },
  );
  if (!parsed) throw new Error(`${configFile} could not be read`);
  const name = (file: string) => relative(root, file).split(sep).join("/");
  const graph = new Map<string, Set<string>>();
  for (const file of parsed.fileNames) {
    const imports = new Set<string>();
    const text = ts.sys.readFile(file);
    if (text === undefined) throw new Error(`${file} could not be read`);
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      const resolved = ts.resolveModuleName(fileName, file, parsed.options, ts.sys).resolvedModule;
      if (!resolved || resolved.isExternalLibraryImport) continue;
      const target = name(resolved.resolvedFileName);
      if (!target.startsWith("../") && target !== name(file)) imports.add(target);
    }
    graph.set(name(file), imports);
  }
  return graph;
}

/** One cycle: entries of `folder` ("." for the root) that import each other, and the imports that close it. */
export interface ImportCycle {
  readonly folder: string;
  /** The entries (file or folder names) in the cycle, sorted. */
  readonly members: readonly string[];
  /** The file imports behind the cycle's edges: "a/x.ts → b/y.ts". */
  readonly imports: readonly string[];
}

/** Every cycle in `graph`: the strongly connected parts (two entries or more) of each folder's entries. */
export function importCycles(graph: ImportGraph): ImportCycle[] {
  // folder → entry → entries it imports, with the file imports behind each edge
  const folders = new Map<string, Map<string, Map<string, string[]>>>();
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const a = from.split("/");
      const b = to.split("/");
      let depth = 0;
      while (depth < a.length - 1 && depth < b.length - 1 && a[depth] === b[depth]) depth++;
      const folder = a.slice(0, depth).join("/") || ".";
      const entries = folders.get(folder) ?? new Map<string, Map<string, string[]>>();
      folders.set(folder, entries);
      const edges = entries.get(a[depth]) ?? new Map<string, string[]>();
      entries.set(a[depth], edges);
      edges.set(b[depth], [...(edges.get(b[depth]) ?? []), `${from} → ${to}`]);
    }
  }
  const cycles: ImportCycle[] = [];
  for (const [folder, entries] of [...folders].sort(([x], [y]) => x.localeCompare(y))) {
    for (const members of stronglyConnected(entries)) {
      const inCycle = new Set(members);
      const imports = members.flatMap((m) =>
        [...(entries.get(m) ?? [])].filter(([to]) => inCycle.has(to)).flatMap(([, files]) => files),
      );
      cycles.push({ folder, members: [...members].sort(), imports: imports.sort() });
    }
  }
  return cycles;
}

/** Tarjan's algorithm: the components of two nodes or more. */
function stronglyConnected(edges: ReadonlyMap<string, ReadonlyMap<string, unknown>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node) as number);
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) as number, index.get(next) as number));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) components.push(component);
    }
  };
  for (const node of edges.keys()) if (!index.has(node)) visit(node);
  return components;
}

/** "folder: a ↔ b ↔ c", the key a cycle is listed under. */
export function describeCycle(cycle: Pick<ImportCycle, "folder" | "members">): string {
  return `${cycle.folder}: ${cycle.members.join(" ↔ ")}`;
}
