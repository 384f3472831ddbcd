import { proxyActivities } from '@temporalio/workflow';

// B1, the Temporal limit: the smallest workflow that runs one activity. Nothing else (no search
// attributes, no queries), so Herald's deliverEmail is compared with the bare cost of
// "start a workflow, run one activity, complete".

export interface B1Activities {
  touch(id: string): Promise<void>;
}

const { touch } = proxyActivities<B1Activities>({ startToCloseTimeout: '1 minute' });

export async function benchOneActivity(id: string): Promise<void> {
  await touch(id);
}
