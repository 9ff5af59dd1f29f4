import { defineConfig } from 'tsup';

/**
 * `@switchboard/shared` as published: ESM for browsers and Node with one declaration file, which is also what
 * the client package's declarations are built against (client/tsup.config.ts). zod and superjson stay external.
 */
export default defineConfig({
  entry: { index: 'index.ts' },
  format: 'esm',
  target: 'es2022',
  // tsup's declaration build sets `baseUrl`, which TypeScript 6 reports as deprecated.
  dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
  clean: true,
  outDir: 'dist',
});
