import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { EmailStatus } from '../shared';

// The messages a delivery workflow answers. The API and the temporal CLI send the same ones:
//   temporal workflow update execute --workflow-id email-<id> --name pause --input '{"actor":"ops"}'

export interface ControlRequest {
  /** Who asks (shown in the timeline); defaults to "temporal" for requests without one. */
  actor?: string;
  reason?: string;
}

export interface RescheduleRequest extends ControlRequest {
  /** ISO date-time with offset. */
  sendAt: string;
}

export interface DeliveryState {
  emailId: string;
  status: EmailStatus;
  sendAt?: string;
  paused: boolean;
  phase: 'waiting' | 'first-attempt' | 'retrying' | 'done';
  lastFailure?: string;
  /** Time left before giving up, excluding paused time (ms), once retrying. */
  retryBudgetMs?: number;
}

export const stateQuery = defineQuery<DeliveryState>('state');
/** Sent by the API just before it cancels the workflow, so the record says who cancelled. */
export const cancelRequestedSignal = defineSignal<[ControlRequest]>('cancelRequested');
export const rescheduleUpdate = defineUpdate<DeliveryState, [RescheduleRequest]>('reschedule');
export const sendNowUpdate = defineUpdate<DeliveryState, [ControlRequest?]>('sendNow');
export const pauseUpdate = defineUpdate<DeliveryState, [ControlRequest?]>('pause');
export const resumeUpdate = defineUpdate<DeliveryState, [ControlRequest?]>('resume');

// The same controls as signals, under the same names, so that they can be sent to many
// deliveries at once: temporal workflow signal --query 'HeraldStatus="scheduled"' --name pause
// A signal that does not apply (say, a reschedule once sending has started) is ignored.
export const rescheduleSignal = defineSignal<[RescheduleRequest]>('reschedule');
export const sendNowSignal = defineSignal<[ControlRequest?]>('sendNow');
export const pauseSignal = defineSignal<[ControlRequest?]>('pause');
export const resumeSignal = defineSignal<[ControlRequest?]>('resume');

export const CONTROL_NAMES = ['reschedule', 'sendNow', 'pause', 'resume'] as const;
export type ControlName = (typeof CONTROL_NAMES)[number];
