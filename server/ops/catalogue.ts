/**
 * Loads a team's event catalogue (`--events` / `SWITCHBOARD_EVENTS`): a TypeScript or JavaScript module whose
 * default export (or `catalogue` export) is made by `defineCatalogue`. tsx compiles it in place, so the built
 * executable loads a `.ts` file as `npm start` does.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyCatalogue } from '@switchboard/shared';
import type { EventStore } from '../core/store.js';

/** The module cannot be loaded, or exports no catalogue; the message names the setting and the file. */
export class CatalogueLoadError extends Error {
  override name = 'CatalogueLoadError';
}

function isCatalogue(value: unknown): value is AnyCatalogue {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Partial<Record<keyof AnyCatalogue, unknown>>;
  return Array.isArray(c.types) && typeof c.topicOf === 'function' && typeof c.describe === 'function';
}

export async function loadCatalogue(path: string): Promise<AnyCatalogue> {
  const where = `--events / SWITCHBOARD_EVENTS ${path}`;
  let loaded: unknown;
  try {
    // Loaded only when a catalogue module is configured: a server without one never starts tsx's loader.
    const { tsImport } = await import('tsx/esm/api');
    loaded = (await tsImport(pathToFileURL(resolve(path)).href, import.meta.url)) as unknown;
  } catch (error) {
    throw new CatalogueLoadError(`cannot load ${where}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const exports = (loaded ?? {}) as Record<string, unknown>;
  // A module compiled as CommonJS (a project whose package.json is not `"type": "module"`, as `npm install`
  // leaves a new one) arrives with its exports under `default`.
  const commonjs = (exports.default ?? {}) as Record<string, unknown>;
  const candidate = [exports.default, exports.catalogue, commonjs.default, commonjs.catalogue].find(isCatalogue);
  if (candidate === undefined) {
    throw new CatalogueLoadError(
      `${where} must export a catalogue made by defineCatalogue({ families: [...] }) as its default export`,
    );
  }
  return candidate;
}

/** Stored event types the catalogue does not define: still replayed as stored, worth a word at start. */
export async function unknownStoredTypes(store: EventStore, catalogue: AnyCatalogue): Promise<string[]> {
  return (await store.storedTypes()).filter((type) => !catalogue.has(type)).sort();
}
