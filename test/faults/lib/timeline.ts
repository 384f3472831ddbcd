import { sleep } from '../../support/process';

// When a scenario's fault starts and ends, counted from now: the fault runs beside the stream
// of emails, and the moment it was lifted is the scenario's recoveredAt.

/** Runs `step` after `ms`; resolves with the time it finished. */
export async function after(ms: number, step: () => unknown): Promise<number> {
  await sleep(ms);
  await step();
  return Date.now();
}

/** `down` after `startMs`, then `up` `forMs` after `down` finished; resolves with the time `up` finished. */
export async function outage(startMs: number, forMs: number, down: () => unknown, up: () => unknown): Promise<number> {
  await after(startMs, down);
  return after(forMs, up);
}
