import { defineConfig } from 'tsup';

/**
 * The package as users install it: `switchboard/client` and `switchboard/shared` as ESM with type
 * declarations, and the `switchboard` executable. Dependencies stay external (installed beside it). No source maps:
 * they would double the package's size and point at sources the package does not ship.
 */
export default defineConfig([
  {
    entry: { client: 'client/index.ts', shared: 'shared/index.ts' },
    format: 'esm',
    target: 'node20',
    // tsup's declaration build sets `baseUrl`, which TypeScript 6 reports as deprecated.
    dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
    clean: true,
    outDir: 'dist',
  },
  {
    // dist/bin.js sits one folder below the package root, like server/db.ts, so the migrations are found at
    // ../drizzle/migrations from both.
    entry: { bin: 'server/bin.ts' },
    format: 'esm',
    target: 'node20',
    outDir: 'dist',
  },
]);
