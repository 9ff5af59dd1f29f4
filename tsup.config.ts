import { defineConfig } from 'tsup';

/**
 * The `switchboard` executable (server and command line) as published. The packages `@switchboard/shared` and
 * `@switchboard/client` are dependencies like the others and stay external, so they must be built first
 * (`npm run build` builds them, then this); each has its own tsup.config.ts. No source maps: they would point at
 * sources the package does not ship.
 */
export default defineConfig({
  // Migrations and the dashboard's build are found from the package root (server/ops/package-root.ts).
  entry: { bin: 'server/entry/bin.ts' },
  format: 'esm',
  target: 'node20',
  clean: true,
  outDir: 'dist',
});
