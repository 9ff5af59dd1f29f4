/**
 * Dependencies point one way (STYLE.md, habit 14): no file of server/, client/ or shared/ reaches itself again
 * through its imports, no folder of server/ imports a folder that imports it back, and the core depends on no
 * store, bus or transport. Type-only imports count: a cycle of types is still a cycle a reader has to untangle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const roots = ['server', 'client', 'shared'];

/** The workspace packages resolve to their entry files, as tsconfig.json `paths` says. */
const packages: Record<string, string> = {
  '@switchboard/shared': 'shared/index.ts',
  '@switchboard/client': 'client/index.ts',
};

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map((entry) => relative('.', join(entry.parentPath, entry.name)))
    .filter((file) => !file.split('/').includes('dist'));
}

/** Every module a file names in `import`, `import type`, `export ... from` or `import()`, resolved to a file. */
function importsOf(file: string, known: Set<string>): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const resolved: string[] = [];
  for (const { fileName } of importedFiles) {
    const target = packages[fileName] ?? resolveRelative(file, fileName);
    if (target !== undefined && known.has(target)) resolved.push(target);
  }
  return resolved;
}

function resolveRelative(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const path = join(dirname(from), specifier);
  return path.endsWith('.js') ? `${path.slice(0, -'.js'.length)}.ts` : path;
}

/** The folder of server/ a file belongs to (`server/transports/ws/x.ts` is in transports); root files in none. */
function serverFolder(file: string): string | undefined {
  const parts = file.split('/');
  return parts[0] === 'server' && parts.length > 2 ? parts[1] : undefined;
}

/** Each cycle of the graph once, as the path that closes it (`a -> b -> a`), found by depth-first search. */
function cycles(graph: Map<string, Set<string>>): string[] {
  const found = new Map<string, string>();
  const done = new Set<string>();
  const visit = (node: string, path: string[]): void => {
    const at = path.indexOf(node);
    if (at !== -1) {
      const cycle = path.slice(at);
      // One cycle is found from each of its nodes; the sorted node set names it once.
      const key = [...cycle].sort().join(' ');
      if (!found.has(key)) found.set(key, [...cycle, node].join(' -> '));
      return;
    }
    if (done.has(node)) return;
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    done.add(node);
  };
  for (const node of [...graph.keys()].sort()) visit(node, []);
  return [...found.values()];
}

const files = roots.flatMap(sourceFiles);
const known = new Set(files);
const fileGraph = new Map(files.map((file) => [file, new Set(importsOf(file, known))]));

const folderGraph = new Map<string, Set<string>>();
for (const [file, targets] of fileGraph) {
  const from = serverFolder(file);
  if (from === undefined) continue;
  const edges = folderGraph.get(from) ?? new Set<string>();
  folderGraph.set(from, edges);
  for (const target of targets) {
    const to = serverFolder(target);
    if (to !== undefined && to !== from) edges.add(to);
  }
}

describe('import graph', () => {
  it('reads the sources it checks', () => {
    // A walk that found nothing would pass every check below.
    expect(files.length).toBeGreaterThan(50);
    expect(fileGraph.get('server/server.ts')?.size).toBeGreaterThan(5);
    expect(folderGraph.get('transports')?.size).toBeGreaterThan(2);
  });

  it('has no cycle of files', () => {
    expect(cycles(fileGraph)).toEqual([]);
  });

  it('has no cycle of server folders', () => {
    expect(cycles(folderGraph)).toEqual([]);
  });

  it('keeps the core free of every other folder of the server', () => {
    // The contracts of stores and buses live in the core; implementations import them, never the reverse.
    const outside = [...fileGraph]
      .filter(([file]) => serverFolder(file) === 'core')
      .flatMap(([file, targets]) =>
        [...targets].filter((t) => t.startsWith('server/') && serverFolder(t) !== 'core').map((t) => `${file} -> ${t}`),
      );
    expect(outside).toEqual([]);
  });

  it('finds a cycle when there is one', () => {
    // The checks above are only as good as the search: it must name a cycle of three.
    const graph = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
      ['d', new Set(['a'])],
    ]);
    expect(cycles(graph)).toEqual(['a -> b -> c -> a']);
  });
});
