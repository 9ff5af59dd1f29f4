/**
 * The package's version for `switchboard --version`, read from its package.json. This file runs from
 * client/cli/ in a clone and from dist/ once built, so the file is looked for upwards rather than at one path.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folders above this module that may hold the package.json: dist/ is one below the root, client/cli/ two. */
const maxLevels = 4;

export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let level = 0; level < maxLevels; level++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'switchboard' && pkg.version !== undefined) return pkg.version;
    } catch {
      // No package.json at this level (or not ours): look one folder up.
    }
    dir = dirname(dir);
  }
  return 'unknown';
}
