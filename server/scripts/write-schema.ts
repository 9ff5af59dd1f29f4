/**
 * `npm run schema`: writes docs/schema.json, the JSON Schema of the built-in catalogue (test/core/schema.test.ts
 * checks it is current), from which the same script then generates the Python client's event classes
 * (clients/python/switchboard/events.py; test/clients/python-package.test.ts checks those).
 */
import { writeFileSync } from 'node:fs';
import { builtinCatalogue } from '@switchboard/shared';
import { catalogueSchema } from '../transports/schema.js';

writeFileSync(
  new URL('../../docs/schema.json', import.meta.url),
  `${JSON.stringify(catalogueSchema(builtinCatalogue), null, 2)}\n`,
);
