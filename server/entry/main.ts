/**
 * `npm start`: the server on its embedded default (a SQLite file, the in-process bus). `npm start -- --help`
 * prints what `switchboard serve --help` does.
 */
import { serve, stopSignal } from '../serve.js';
import { serveCommand } from './serve-command.js';

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  // A reader that goes away (`| head`) ends it quietly.
  process.stdout.on('error', () => undefined);
  process.stdout.write(`${serveCommand.help}\n`);
} else {
  process.exitCode = await serve(argv, process.env, process, stopSignal());
}
