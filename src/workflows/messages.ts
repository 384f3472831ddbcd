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

/** Where a delivery stands, as the `state` query and every control's answer show it. */
export interface DeliveryView {
  emailId: string;
  status: EmailStatus;
  sendAt?: string;
  paused: boolean;
  phase: DeliveryPhase;
  lastFailure?: string;
  /** The gateway the next (or current) attempt goes to, once known. */
  gateway?: string;
  /** Time left before giving up, excluding paused time (ms), once retrying. */
  retryBudgetMs?: number;
}

export type DeliveryPhase =
  | 'waiting' // for its send time (or to be released), nothing sent yet
  | 'first-attempt' // the first attempt is under way
  | 'retrying' // a transient failure happened: attempts run under the retry policy
  | 'finished'; // sent, failed or cancelled

export const stateQuery = defineQuery<DeliveryView>('state');
/** Sent by the API just before it cancels the workflow, so the record says who cancelled. */
export const cancelRequestedSignal = defineSignal<[ControlRequest]>('cancelRequested');

export const CONTROL_NAMES = ['reschedule', 'sendNow', 'pause', 'resume'] as const;
export type ControlName = (typeof CONTROL_NAMES)[number];

// Each control as a validated update (it answers) and as a signal of the same name (it can be
// sent to many deliveries at once: temporal workflow signal --query 'HeraldStatus="scheduled"'
// --name pause). A signal that does not apply (a reschedule once sending has started) is ignored.
export const CONTROL_UPDATES = {
  reschedule: defineUpdate<DeliveryView, [RescheduleRequest]>('reschedule'),
  sendNow: defineUpdate<DeliveryView, [ControlRequest?]>('sendNow'),
  pause: defineUpdate<DeliveryView, [ControlRequest?]>('pause'),
  resume: defineUpdate<DeliveryView, [ControlRequest?]>('resume'),
};
export const CONTROL_SIGNALS = {
  reschedule: defineSignal<[RescheduleRequest]>('reschedule'),
  sendNow: defineSignal<[ControlRequest?]>('sendNow'),
  pause: defineSignal<[ControlRequest?]>('pause'),
  resume: defineSignal<[ControlRequest?]>('resume'),
};
