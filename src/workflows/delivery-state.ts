import { ApplicationFailure } from '@temporalio/workflow';
import {
  ALREADY_SENDING,
  CONTROL_LIMITS,
  controlTextReason,
  DELIVERY_FINISHED,
  GatewayRoute,
  HERALD_ACTOR,
  INVALID_CONTROL_REQUEST,
  INVALID_SEND_AT,
  sendAtReason,
  type DeliverEmailInput,
  type EmailStatus,
  type GatewayRef,
} from '../shared';
import type { ControlName, ControlRequest, DeliveryPhase, DeliveryView, RescheduleRequest } from './messages';

// The state of one delivery, as plain data and rules: no timers, no activities, no Temporal
// calls but the failures a refused control throws. deliver-email.ts wires it to Temporal.

/** Who a control or a cancel is from when the request does not say (the temporal CLI). */
export const DEFAULT_ACTOR = 'temporal';

/** A control's change, waiting to be written to PostgreSQL by the workflow, in order. */
export interface PendingChange {
  event: string;
  actor: string;
  data: { reason: string | null };
  sendAt?: string;
  /** The status it leaves the email in; absent once the delivery has finished (timeline only). */
  status?: EmailStatus;
}

export interface Control<T> {
  /** Throws an ApplicationFailure saying why the control does not apply now. */
  validate(request?: T): void;
  apply(request?: T): void;
}

export class DeliveryState {
  phase: DeliveryPhase = 'waiting';
  paused = false;
  sendAt: string | undefined;
  lastFailure: string | undefined;
  /** Who asked for the cancellation the workflow is about to receive. */
  cancelRequest: ControlRequest | undefined;
  /** The email's gateways and where its next attempt goes; set at its first attempt. */
  route: GatewayRoute | undefined;
  /** Held by Herald (the bound on copies) rather than paused by a person. */
  private held = false;
  private finalStatus: EmailStatus | undefined;
  private released = false;
  private firstAttemptAt = 0;
  private pausedSince = 0;
  private pausedSinceFirstAttemptMs = 0;
  private readonly pending: PendingChange[] = [];

  constructor(
    private readonly input: DeliverEmailInput,
    private readonly now: () => number = Date.now,
  ) {
    this.sendAt = input.sendAt;
  }

  /** The status a person sees, derived in one place for the query, the answers and the writes. */
  status(): EmailStatus {
    return this.phase === 'first-attempt' ? 'sending' : this.restingStatus();
  }

  /** The status once any attempt under way has given way: what a control leaves the email in. */
  private restingStatus(): EmailStatus {
    if (this.phase === 'finished') return this.finalStatus!;
    if (this.paused) return 'paused';
    if (this.phase === 'retrying') return 'retrying';
    return this.isDue() ? 'queued' : 'scheduled';
  }

  view(): DeliveryView {
    return {
      emailId: this.input.emailId,
      status: this.status(),
      sendAt: this.sendAt,
      paused: this.paused,
      phase: this.phase,
      lastFailure: this.lastFailure,
      gateway: this.route?.current().name,
      retryBudgetMs: this.phase === 'retrying' ? this.retryBudgetMs() : undefined,
    };
  }

  /** Whether attempts may run now (the retry regime goes on at once after a pause). */
  isDue(): boolean {
    if (this.phase === 'retrying' || this.released || !this.sendAt) return true;
    return Date.parse(this.sendAt) <= this.now();
  }

  msUntilDue(): number {
    return this.sendAt ? Math.max(0, Date.parse(this.sendAt) - this.now()) : 0;
  }

  // The controls, each a validator that refuses what does not apply and the change itself.

  readonly controls: { [K in ControlName]: Control<K extends 'reschedule' ? RescheduleRequest : ControlRequest> } = {
    reschedule: {
      validate: (req) => {
        this.mustBeWaiting();
        if (!req || typeof req.sendAt !== 'string')
          throw ApplicationFailure.create({ type: INVALID_SEND_AT, message: 'sendAt must be an ISO date-time' });
        const invalid = sendAtReason(req.sendAt, this.now());
        if (invalid) throw ApplicationFailure.create({ type: INVALID_SEND_AT, message: `sendAt ${invalid}` });
        this.mustBeStorable(req);
      },
      apply: (req) => {
        this.sendAt = req!.sendAt;
        this.released = false;
        this.record('email.rescheduled', req, req!.sendAt);
      },
    },
    sendNow: {
      validate: (req) => {
        this.mustBeWaiting();
        this.mustBeStorable(req);
      },
      apply: (req) => {
        this.released = true;
        this.record('email.send_now', req);
      },
    },
    pause: {
      validate: (req) => {
        this.mustNotBeFinished();
        this.mustBeStorable(req);
      },
      apply: (req) => {
        if (this.paused) return;
        this.paused = true;
        this.pausedSince = this.now();
        this.record('email.paused', req);
      },
    },
    resume: {
      validate: (req) => {
        this.mustNotBeFinished();
        this.mustBeStorable(req);
      },
      apply: (req) => {
        if (!this.paused) return;
        this.paused = false;
        // Resuming an email Herald held lets every gateway take it again (README, Gateways).
        if (this.held) {
          this.held = false;
          this.route?.forgive();
        }
        this.pausedSinceFirstAttemptMs += this.pauseSinceFirstAttempt();
        this.record('email.resumed', req);
      },
    },
  };

  /** Who asks for the coming cancellation; a request whose text cannot be stored is ignored (the default actor is recorded). */
  requestCancel(req: ControlRequest | undefined): void {
    try {
      this.mustBeStorable(req);
      this.cancelRequest = req;
    } catch {
      // a signal cannot answer: the cancellation itself still comes, recorded without this text
    }
  }

  /** For signals, which cannot answer: whether the control applies now. */
  accepts<T>(control: Control<T>, request?: T): boolean {
    try {
      control.validate(request);
      return true;
    } catch {
      return false;
    }
  }

  // The delivery's steps, called by the workflow as they happen.

  useGateways(gateways: GatewayRef[]): void {
    this.route = new GatewayRoute(gateways, this.input.policy);
  }

  /** No gateway may take the email again without an operator: paused by Herald, with the reason. */
  hold(reason: string): void {
    this.controls.pause.apply({ actor: HERALD_ACTOR, reason });
    this.held = true;
  }

  startFirstAttempt(): void {
    this.phase = 'first-attempt';
    this.firstAttemptAt = this.now();
    this.pausedSinceFirstAttemptMs = 0;
  }

  firstAttemptFailed(message: string): void {
    this.phase = 'retrying';
    this.lastFailure = message;
  }

  /** A pause stopped the attempts: a first attempt is made again once resumed; retries go on. */
  interruptedByPause(): void {
    if (this.phase === 'first-attempt') this.phase = 'waiting';
  }

  /** Time left before giving up; paused time does not count. */
  retryBudgetMs(): number {
    const elapsed = this.now() - this.firstAttemptAt - this.pausedSinceFirstAttemptMs - (this.paused ? this.pauseSinceFirstAttempt() : 0);
    return this.input.policy.giveUpAfterMs - elapsed;
  }

  finish(status: EmailStatus, failure?: string): void {
    this.phase = 'finished';
    this.finalStatus = status;
    if (failure !== undefined) this.lastFailure = failure;
  }

  hasPendingChanges(): boolean {
    return this.pending.length > 0;
  }

  /**
   * The oldest change not yet written, with the status it left the email in (each of several
   * changes written together keeps its own: a pause then a resume write paused, then retrying).
   * Once the delivery has finished, a late change goes to the timeline only.
   */
  takePendingChange(): PendingChange | undefined {
    const change = this.pending.shift();
    if (!change || this.phase !== 'finished') return change;
    const { status: _left, ...timelineOnly } = change;
    return timelineOnly;
  }

  private pauseSinceFirstAttempt(): number {
    return this.firstAttemptAt ? this.now() - Math.max(this.pausedSince, this.firstAttemptAt) : 0;
  }

  private record(event: string, req: ControlRequest | undefined, sendAt?: string): void {
    this.pending.push({
      event,
      actor: req?.actor ?? DEFAULT_ACTOR,
      data: { reason: req?.reason ?? null },
      sendAt,
      status: this.restingStatus(),
    });
  }

  /**
   * A control's reason and actor are written to PostgreSQL and shown in the timeline: whatever
   * sends them (the API, the temporal CLI, a batch signal), they must be text it can store.
   */
  private mustBeStorable(req: ControlRequest | undefined): void {
    const invalid =
      (req !== undefined && req !== null && typeof req !== 'object' ? 'the request must be an object' : undefined) ??
      prefixed('reason', controlTextReason(req?.reason, CONTROL_LIMITS.reasonChars)) ??
      prefixed('actor', controlTextReason(req?.actor, CONTROL_LIMITS.actorChars));
    if (invalid) throw ApplicationFailure.create({ type: INVALID_CONTROL_REQUEST, message: invalid });
  }

  private mustNotBeFinished(): void {
    if (this.phase === 'finished') {
      throw ApplicationFailure.create({ type: DELIVERY_FINISHED, message: `email is already ${this.status()}` });
    }
  }

  private mustBeWaiting(): void {
    this.mustNotBeFinished();
    if (this.phase !== 'waiting') throw ApplicationFailure.create({ type: ALREADY_SENDING, message: 'delivery has already started' });
  }
}

const prefixed = (field: string, reason: string | undefined) => (reason ? `${field} ${reason}` : undefined);
