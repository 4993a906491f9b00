/**
 * What a request may reach: the Baton parts of one namespace, and the caller
 * (a token, a dashboard session, or nobody in no-auth mode).
 */
import type { Events } from '../api/events.js';
import type { Runs } from '../api/runs.js';
import type { BatonRuntime } from '../api/runtime.js';
import type { Schedules } from '../api/schedules.js';
import type { Task } from '../api/task.js';
import type { Tokens } from '../api/tokens.js';
import type { Workflow } from '../api/workflow.js';

/** The parts of a Baton instance for one namespace. */
export interface NamespaceApi {
  namespace: string;
  runtime: BatonRuntime;
  runs: Runs;
  events: Events;
  schedules: Schedules;
  // biome-ignore lint/suspicious/noExplicitAny: tasks and workflows of any types
  localTarget(name: string): Task<any, any> | Workflow<any, any> | undefined;
}

/** What the HTTP layer needs from its Baton instance. */
export interface HttpHost {
  readonly namespace: string;
  readonly tokens: Tokens;
  /** A token given in the settings (`http.token` / `BATON_TOKEN`): full access to every namespace. */
  readonly configuredToken?: string | undefined;
  forNamespace(namespace: string): NamespaceApi;
  logError(error: unknown, message: string): void;
}

export interface Caller {
  kind: 'token' | 'session' | 'anonymous';
  scope: 'read' | 'write';
  namespaces: string[];
}

export type HttpVariables = { caller: Caller; api: NamespaceApi };
