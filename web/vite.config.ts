/**
 * The dashboard build: `npm run build:web` writes `web/dist`, which the server serves at `/` (`npm install` runs
 * it through `prepare`). `npm run dev:web` serves the page with hot reload and forwards `/trpc` (WebSocket
 * included) to a server started with `npm start`.
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  // `@switchboard/shared` and `@switchboard/client` are the sources (tsconfig.json `paths`), not their dist/.
  resolve: { tsconfigPaths: true },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1024 },
  server: {
    proxy: { '/trpc': { target: 'http://127.0.0.1:8765', ws: true } },
  },
});
