import { existsSync } from 'node:fs';
import { defineConfig } from 'tsup';

/**
 * `@switchboard/client` as published: ESM for browsers and Node, declarations in one file with `AppRouter` and
 * `AppRouterFor` spelled out (the server's sources are read for their types, nothing of the server is shipped).
 * Dependencies stay external, `@switchboard/shared` included. The declarations are built against the shared
 * package's build, not its sources (empty `paths`): only then does TypeScript name its types
 * `import("@switchboard/shared")` instead of file paths that would copy the contract into this file. So shared is
 * built first: `npm run build`, or `npm pack` of shared before client (each package's `prepack` builds it).
 */
const sharedBuild = new URL('../shared/dist/index.d.ts', import.meta.url);
if (!existsSync(sharedBuild)) {
  throw new Error(
    '@switchboard/client is built against the build of @switchboard/shared, and shared/dist has none: build shared first (`npm run build` at the root builds both, in order)',
  );
}

export default defineConfig({
  entry: { index: 'index.ts' },
  format: 'esm',
  target: 'es2022',
  // tsup's declaration build sets `baseUrl`, which TypeScript 6 reports as deprecated.
  dts: { compilerOptions: { ignoreDeprecations: '6.0', paths: {} } },
  clean: true,
  outDir: 'dist',
});
