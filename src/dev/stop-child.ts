import type { ChildProcess } from 'node:child_process';

/**
 * `signal` (SIGTERM unless told), then SIGKILL after 10 s if it is still running; resolves once
 * it has exited. (PostgreSQL wants SIGINT: SIGTERM waits for every client to disconnect.)
 */
export async function stopChild(child: ChildProcess, exited: Promise<unknown>, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
