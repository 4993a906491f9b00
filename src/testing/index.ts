/** `baton/testing`: time-skipping test kit for code that uses Baton. */

export {
  createTestBaton,
  createTestContext,
  runTaskForTest,
  type TaskTestResult,
  type TestBaton,
  type TestContextOptions,
  type TestContextRecord,
} from './create-test-baton.js';
export { TestClock } from './test-clock.js';
