import { proxyActivities, proxySinks, type Sinks } from '@temporalio/workflow';

// The Temporal baselines Herald's deliverEmail is compared with, on the same server in the same
// run. Nothing else in them (no search attributes, no queries, no signals).

export interface BaselineActivities {
  touch(id: string): Promise<void>;
}

/** How a workflow that runs no activity tells the bench it ran: a sink, called by the worker after the activation, never on replay. */
export interface BaselineSinks extends Sinks {
  bench: { ran(id: string): void };
}

const { touch } = proxyActivities<BaselineActivities>({ startToCloseTimeout: '1 minute' });
const { bench } = proxySinks<BaselineSinks>();

/** B1: the smallest workflow that runs one activity ("start a workflow, run one activity, complete"). */
export async function benchOneActivity(id: string): Promise<void> {
  await touch(id);
}

/**
 * B2, the floor of "one workflow per email": a workflow that completes in its first workflow
 * task, with no activity at all (Herald's first attempt is a local activity, which runs inside
 * that task, so B1 is no longer the floor).
 */
export async function benchNoActivity(id: string): Promise<void> {
  bench.ran(id);
}
