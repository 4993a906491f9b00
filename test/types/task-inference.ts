// Compile-time checks of task type inference (typechecked by `npm test`, never run).
import { Baton } from 'baton';
import { z } from 'zod';

const baton = new Baton();
const a = baton.task({ name: 'a', output: z.object({ ok: z.boolean() }) }, async () => ({ ok: true }));
const b = baton.task({ name: 'b', input: z.object({ n: z.number() }) }, async (input) => input.n * 2);
const c = baton.task({ name: 'c' }, async function* () {
  yield 1;
  yield 2;
});
const d = baton.task({ name: 'd' }, async (input: { s: string }) => input.s);
export async function f() {
  const x: { ok: boolean } = await a.run();
  const y: number = await b.run({ n: 1 });
  const z1: number[] = await c.run();
  const w: string = await d.run({ s: 'x' });
  return [x, y, z1, w];
}
