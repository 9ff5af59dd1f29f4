/**
 * Reloads the tokens file without a restart: on `reload()` (the entry point calls it on SIGHUP) and when the
 * file changes. A file that cannot be read or holds an invalid entry is refused as a whole and the tokens in
 * force stay, so a half-saved edit never locks everyone out or lets anyone in.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { TokenEntry } from './auth.js';
import { readTokensFile } from '../ops/config.js';
import type { Logger } from '../ops/log.js';

export interface TokensFileOptions {
  file: string;
  /** Tokens from elsewhere (SWITCHBOARD_TOKENS), kept across reloads. */
  fixed: readonly TokenEntry[];
  /** Given the new full set; returns how many connections lost their token. */
  apply: (tokens: TokenEntry[]) => number;
  /** Refuses a reload that would leave no token at all (beyond loopback that would open the hub to anyone). */
  mustKeepOne: boolean;
  log: Logger;
}

export type ReloadResult = { ok: true; tokens: number; revoked: number } | { ok: false; error: string };

/** Editors save in bursts (truncate, write, rename); one reload per burst. */
const settleMs = 50;

export class TokensFile {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: TokensFileOptions) {}

  reload(): ReloadResult {
    const { file, fixed, apply, mustKeepOne, log } = this.options;
    let tokens: TokenEntry[];
    try {
      tokens = [...fixed, ...readTokensFile(file)];
    } catch (error) {
      const message = `tokens file not reloaded, the previous tokens stay in force: ${(error as Error).message}`;
      log.error({ file }, message);
      return { ok: false, error: message };
    }
    if (tokens.length === 0 && mustKeepOne) {
      const message = 'tokens file not reloaded: it holds no token, and this server listens beyond loopback';
      log.error({ file }, message);
      return { ok: false, error: message };
    }
    const revoked = apply(tokens);
    log.info({ file, tokens: tokens.length, revoked }, 'tokens reloaded');
    return { ok: true, tokens: tokens.length, revoked };
  }

  /** Reloads on every change to the file; the folder is watched, since saving often replaces the file. */
  watch(): void {
    const name = basename(this.options.file);
    this.watcher = watch(dirname(this.options.file), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), settleMs);
    });
    this.watcher.on('error', (error) => {
      this.options.log.warn({ err: error }, 'cannot watch the tokens file; reload it with SIGHUP');
    });
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
  }
}
