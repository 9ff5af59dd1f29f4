import { defineConfig } from 'tsup';

/**
 * The package as users install it: `switchboard/client` and `switchboard/shared` as ESM with type
 * declarations, and the `switchboard` executable. Dependencies stay external (installed beside it).
 */
export default defineConfig([
  {
    entry: { client: 'client/index.ts', shared: 'shared/index.ts' },
    format: 'esm',
    target: 'node20',
    // tsup's declaration build sets `baseUrl`, which TypeScript 6 reports as deprecated.
    dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
    sourcemap: true,
    clean: true,
    outDir: 'dist',
  },
  {
    // Migrations and the dashboard's build are found from the package root (server/ops/package-root.ts).
    entry: { bin: 'server/entry/bin.ts' },
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    outDir: 'dist',
  },
]);
