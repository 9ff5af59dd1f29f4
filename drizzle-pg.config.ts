import { defineConfig } from 'drizzle-kit';

/** The PostgreSQL schema's migrations, beside the SQLite ones: `npm run db:generate:pg`. */
export default defineConfig({
  dialect: 'postgresql',
  schema: './drizzle/pg-schema.ts',
  out: './drizzle/pg-migrations',
});
