/** Starting the bench's processes and waiting on their IPC messages, every wait bounded. */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const flag = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
export const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
export const execArgv = ['--import', 'tsx', '--expose-gc'];
/**
 * `--profile DIR` writes a V8 CPU profile of every process the bench starts (servers, clients, load, cluster
 * nodes) into DIR: these are the flags that ask for it.
 */
const profileDir = flag('--profile');
export const profileArgv = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
const forkExecArgv = [...execArgv, ...profileArgv];
/** No wait in this suite may exceed this. */
export const waitLimitMs = 120_000;

export function start(file: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  return fork(here(file), args, {
    execArgv: forkExecArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** Stops a child with SIGTERM and waits until it has exited; one still running after the wait limit is killed outright. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), waitLimitMs);
  await exited;
  clearTimeout(timer);
}

export function next<T>(child: ChildProcess, key: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`timed out after ${waitLimitMs} ms waiting for "${key}"`));
    }, waitLimitMs);
    const onMessage = (message: Record<string, unknown>) => {
      if (!(key in message)) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message[key] as T);
    };
    child.on('message', onMessage);
  });
}

/** One measurement a script printed; `error` when the server refused it (a limit), then `perSecond` is absent. */
export interface Measured {
  mode: string;
  perSecond?: number;
  clientCpuPerEvent?: number;
  error?: string;
  [more: string]: unknown;
}

/**
 * Runs a script that prints one JSON line per measurement, and returns those lines. A script that fails or
 * outlives the wait limit gives one more line with the error, named by its first argument (its mode): the run
 * goes on, and the table says what failed.
 */
export function runScript(file: string, args: string[]): Promise<Measured[]> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...forkExecArgv, here(file), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill();
    }, waitLimitMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const lines = out
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Measured);
      if (code === 0) resolve(lines);
      else {
        const why = timedOut ? `no result within ${waitLimitMs / 1000} s` : `${file} exited with ${String(code)}`;
        resolve([...lines, { mode: args[0] ?? file, error: why }]);
      }
    });
  });
}
