import type { OpenStoreOptions } from '../open-store.js';
import type { Store } from '../types.js';

// Replaced by the PostgreSQL implementation (issue 3).
export const PostgresStore = {
  async open(_url: string, _options: OpenStoreOptions): Promise<Store> {
    throw new Error('PostgreSQL store not built yet');
  },
};
