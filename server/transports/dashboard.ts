/**
 * The dashboard's static files: the Vite build in `web/dist`, read into memory once at start-up (a few hundred
 * KiB), each with its gzip form and an ETag. Only those files are ever answered, so no request path reaches the
 * file system. Hashed assets are cached for a year as immutable; `index.html` is revalidated on every load, so a
 * new build shows at the next reload.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fromPackageRoot } from '../ops/package-root.js';

/** The package's `web/dist`, from the sources and from the packaged `bin.js` alike. */
export const defaultDashboardDir = fromPackageRoot('web', 'dist');

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};
// Source maps are fetched only by developer tools; compressing their megabytes would slow every start-up.
const compressible = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt']);

/**
 * The page may load its own scripts and styles and talk to this origin (WebSocket included), nothing else.
 * Inline styles are allowed because React sets `style` attributes (progress bars).
 */
const pageHeaders = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

interface StaticFile {
  body: Buffer;
  gzip: Buffer | null;
  type: string;
  etag: string;
  cacheControl: string;
}

export interface Dashboard {
  /** Where the files were read from. */
  dir: string;
  /** False when `dir` holds no build: `/` then explains how to build it. */
  built: boolean;
  /** Answers GET/HEAD for `/` and the built files; returns false for any other path. */
  serve(req: IncomingMessage, res: ServerResponse, path: string): boolean;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/**
 * The build's files, read once. A build being replaced while they are read (`vite build` empties the folder
 * first, and `npm pack` runs it) makes a listed file vanish: that is no build yet, as an empty folder is, never a
 * failed start.
 */
function load(dir: string): Map<string, StaticFile> {
  try {
    return read(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
}

function read(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(join(dir, 'index.html'))) return files;
  for (const file of walk(dir)) {
    const url = `/${relative(dir, file).split(sep).join('/')}`;
    const ext = extname(file);
    const body = readFileSync(file);
    const gzip = compressible.has(ext) && body.length > 1024 ? gzipSync(body) : null;
    files.set(url, {
      body,
      gzip: gzip && gzip.length < body.length ? gzip : null,
      type: types[ext] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      // Vite puts content hashes in every file name under assets/; anything else may change under its name.
      cacheControl: url.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
  }
  return files;
}

const notBuilt = `<!doctype html><meta charset="utf-8"><title>Switchboard</title>
<body style="font-family:system-ui;max-width:40em;margin:4em auto;line-height:1.5">
<h1>The dashboard is not built</h1>
<p>This server found no build in <code>web/dist</code>. <code>npm install</code> (or <code>npm ci</code>) builds it;
to build it by hand run <code>npm run build:web</code>, then restart the server (it reads the build when it
starts).</p>
<p>The API is up: tRPC at <code>/trpc</code>, <code>/ingest</code>, <code>/healthz</code>, <code>/metrics</code>.</p>`;

export function loadDashboard(dir: string = defaultDashboardDir): Dashboard {
  const files = load(dir);
  return {
    dir,
    built: files.size > 0,
    serve(req, res, path) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      const file = files.get(path === '/' ? '/index.html' : path);
      if (!file) {
        if (path !== '/') return false;
        res.writeHead(503, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(notBuilt);
        return true;
      }
      const headers: Record<string, string> = {
        'content-type': file.type,
        'cache-control': file.cacheControl,
        etag: file.etag,
        vary: 'accept-encoding',
        ...(file.type.startsWith('text/html') && pageHeaders),
      };
      if (req.headers['if-none-match'] === file.etag) {
        res.writeHead(304, headers);
        res.end();
        return true;
      }
      const gzip = file.gzip !== null && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
      const body = gzip && file.gzip ? file.gzip : file.body;
      if (gzip) headers['content-encoding'] = 'gzip';
      headers['content-length'] = String(body.length);
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    },
  };
}
