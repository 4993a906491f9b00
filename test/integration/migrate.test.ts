/** `migrate()` applies the schema ahead of time, once, on both stores. */
import { migrate } from 'baton';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type BackendName, createFixture, describeEachStore, type StoreFixture } from '../support/stores.js';

describeEachStore('migrate()', (backend: BackendName) => {
  let fixture: StoreFixture;
  beforeEach(async () => {
    fixture = await createFixture(backend);
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  it('applies every migration once, then nothing, and leaves a usable database', async () => {
    const first = await migrate(fixture.options);
    expect(first.applied).toBeGreaterThanOrEqual(2);
    expect(await migrate(fixture.options)).toEqual({ applied: 0 });
    const baton = fixture.baton();
    const task = baton.task({ name: 'after-migrate' }, async () => 'ok');
    const worker = baton.worker({ name: 'w', tasks: [task] });
    await worker.start();
    expect(await task.run()).toBe('ok');
  });

  it('refuses an unknown database scheme with a clear error', async () => {
    await expect(migrate({ database: 'mysql://localhost/x' })).rejects.toThrow(/unsupported scheme/);
  });
});
