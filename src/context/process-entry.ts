/**
 * The entry of a child process started by `runInChildProcess`: waits for its
 * start message on the IPC channel, runs the work with the parent's context
 * restored, sends the outcome back and exits. No store here.
 */

import type { StartMessage, ToRemote } from './travel-protocol.js';
import { type ParentChannel, runRemote } from './travel-remote.js';

const send = process.send?.bind(process);
if (!send) throw new Error('process-entry runs only as a child process started by runInChildProcess');

const channel: ParentChannel = {
  send: (message) => {
    send(message);
  },
  end: (message) => {
    // The child is one call: once its outcome is written it exits, whatever it left running.
    send(message, undefined, undefined, () => process.exit());
  },
  onMessage: (listener) => {
    process.on('message', (message: ToRemote | StartMessage) => {
      if (message.t !== 'start') listener(message);
    });
  },
};

process.once('message', (message: StartMessage) => {
  void runRemote(channel, message);
});
