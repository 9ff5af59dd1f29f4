/**
 * The folder that holds the server package's `package.json`, found by walking up from this module. Files that
 * ship beside the code (migrations, the dashboard's build) resolve from it, so the same path works from the
 * sources (`server/...`, any depth) and from the bundled `dist/bin.js`, whatever the working directory.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const packageRoot = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the package, e.g. `fromPackageRoot('drizzle', 'migrations')`. */
export const fromPackageRoot = (...parts: string[]): string => join(packageRoot, ...parts);
