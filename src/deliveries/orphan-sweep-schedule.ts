import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import { ORPHAN_SWEEP_WORKFLOW } from '../shared';

export const ORPHAN_SWEEP_SCHEDULE_ID = 'herald-orphan-sweep';

/**
 * Creates the Temporal Schedule that runs the orphan sweep every five minutes, once per
 * cluster; an existing one gets this build's action (workflow type and task queue).
 */
export async function ensureOrphanSweepSchedule(client: Client, taskQueue: string): Promise<void> {
  const action: ScheduleOptionsStartWorkflowAction<never> = {
    type: 'startWorkflow',
    workflowType: ORPHAN_SWEEP_WORKFLOW,
    taskQueue,
    args: [] as never,
  };
  try {
    await client.schedule.create({
      scheduleId: ORPHAN_SWEEP_SCHEDULE_ID,
      spec: { intervals: [{ every: '5 minutes' }] },
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(ORPHAN_SWEEP_SCHEDULE_ID).update((previous) => ({ ...previous, action }));
  }
}
