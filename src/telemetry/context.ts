import { AsyncLocalStorage } from 'node:async_hooks';
import type { LogContext } from '../shared';

// What every log line about a request or an email carries: the request id (X-Request-Id) and,
// once known, the email, its tenant and its workflow. The API sets it per request; the worker's
// activity interceptor sets it per activity from the Temporal header the workflow start carried.

export type { LogContext };

const storage = new AsyncLocalStorage<LogContext>();

export function currentLogContext(): LogContext | undefined {
  return storage.getStore();
}

/** Runs fn with these fields added to the current context. */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...definedOnly(fields) }, fn);
}

/** Adds fields to the context of the code now running (e.g. once the email id is known). */
export function addToLogContext(fields: LogContext): void {
  const store = storage.getStore();
  if (store) Object.assign(store, definedOnly(fields));
}

function definedOnly(fields: LogContext): LogContext {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => typeof v === 'string' && v !== '')) as LogContext;
}
