/**
 * A catalogue module with a bug that shows only after the server listens: `has`, asked at start-up which stored
 * types the catalogue defines, throws. The server must still end, closing what it opened.
 */
import { defineCatalogue } from '@switchboard/shared';

const catalogue = defineCatalogue({ families: [] });

export default Object.assign(Object.create(catalogue) as typeof catalogue, {
  has(): boolean {
    throw new Error('catalogue bug: has() failed');
  },
});
