/**
 * `npm start`: the server on its embedded default (a SQLite file, the in-process bus).
 */
import { serve, stopSignal } from '../serve.js';

process.exitCode = await serve(process.argv.slice(2), process.env, process, stopSignal());
