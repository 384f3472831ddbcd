import { ApplicationFailure } from '@temporalio/workflow';
import {
  CAMPAIGN_ALREADY_PAUSED,
  CAMPAIGN_FINISHED,
  CAMPAIGN_NOT_PAUSED,
  type CampaignCarry,
  type CampaignPacing,
  type PageResult,
  type SendCampaignInput,
} from '../shared';
import type { CampaignControlName, CampaignView } from './campaign-messages';
import type { ControlRequest } from './messages';
import { DEFAULT_ACTOR, type Control } from './delivery-state';

// The state of one campaign as plain data and rules: the window, the rate, the controls and
// what the next step is. No timers or activities; send-campaign.ts wires it to Temporal.

/** An effect a control asks for, applied by the workflow (an activity) in order. */
export interface CampaignEffect {
  seq: number;
  kind: 'pause' | 'resume';
  actor: string;
  reason?: string;
}

/** The next thing the workflow does. */
export type CampaignStep =
  | { kind: 'apply'; effect: CampaignEffect } // a pause or resume to apply to its emails
  | { kind: 'cancel' } // cancel the rest, then end
  | { kind: 'complete' } // every recipient handed over and every email finished
  | { kind: 'wait'; ms?: number } // for a control, or at most ms (sendAt, the window, the rate, the quota)
  | { kind: 'page'; limit: number }; // hand over up to `limit` recipients (0: only look at the window)

/** Polls of a full window or of the last emails start here and double while nothing changes. */
export const MIN_POLL_MS = 250;
export const MAX_POLL_MS = 30_000;

export class CampaignState {
  paused: boolean;
  cursor: string | null;
  handedOver: number;
  exhausted: boolean;
  inFlight: number;
  runs: number;
  cancelRequest: ControlRequest | undefined;
  finished: 'completed' | 'cancelled' | undefined;
  /** Pages and polls in this run (continue-as-new after pacing.pagesPerRun). */
  steps = 0;
  private tokens: number;
  private tokensAt: number;
  private pollMs = MIN_POLL_MS;
  private lastInFlight = -1;
  private quotaUntil = 0;
  private readonly effects: CampaignEffect[] = [];
  private nextSeq = 1;
  private appliedSeq = 0;

  constructor(
    private readonly input: SendCampaignInput,
    private readonly now: () => number = Date.now,
  ) {
    const c = input.carried;
    this.paused = c?.paused ?? false;
    this.cursor = c?.cursor ?? null;
    this.handedOver = c?.handedOver ?? 0;
    this.exhausted = c?.exhausted ?? false;
    this.inFlight = c?.inFlight ?? 0;
    this.runs = (c?.runs ?? 0) + 1;
    this.tokens = c?.tokens ?? this.capacity();
    this.tokensAt = c?.tokensAt ?? now();
  }

  get pacing(): CampaignPacing {
    return this.input.pacing;
  }

  view(): CampaignView {
    return {
      campaignId: this.input.campaignId,
      status: this.finished ?? (this.cancelRequest ? 'cancelling' : this.paused ? 'paused' : 'running'),
      paused: this.paused,
      sendAt: this.input.sendAt,
      handedOver: this.handedOver,
      inFlight: this.inFlight,
      exhausted: this.exhausted,
      runs: this.runs,
    };
  }

  readonly controls: { [K in CampaignControlName]: Control<ControlRequest> } = {
    pause: {
      validate: () => {
        this.mustNotBeFinished();
        if (this.paused) throw ApplicationFailure.create({ type: CAMPAIGN_ALREADY_PAUSED, message: 'the campaign is already paused' });
      },
      apply: (req) => {
        this.paused = true;
        this.effects.push({ seq: this.nextSeq++, kind: 'pause', actor: req?.actor ?? DEFAULT_ACTOR, reason: req?.reason });
      },
    },
    resume: {
      validate: () => {
        this.mustNotBeFinished();
        if (!this.paused) throw ApplicationFailure.create({ type: CAMPAIGN_NOT_PAUSED, message: 'the campaign is not paused' });
      },
      apply: (req) => {
        this.paused = false;
        this.effects.push({ seq: this.nextSeq++, kind: 'resume', actor: req?.actor ?? DEFAULT_ACTOR, reason: req?.reason });
      },
    },
    cancel: {
      validate: () => this.mustNotBeFinished(),
      apply: (req) => {
        this.cancelRequest ??= { actor: req?.actor ?? DEFAULT_ACTOR, reason: req?.reason };
      },
    },
  };

  /** For signals, which cannot answer: whether the control applies now. */
  accepts(control: Control<ControlRequest>, request?: ControlRequest): boolean {
    try {
      control.validate(request);
      return true;
    } catch {
      return false;
    }
  }

  /** The sequence number the last control's effect will have (an update waits for it). */
  lastEffectSeq(): number {
    return this.nextSeq - 1;
  }

  isApplied(seq: number): boolean {
    return this.appliedSeq >= seq;
  }

  /** Something for the workflow to do at once: a control's effect or a cancellation. */
  hasWork(): boolean {
    return this.effects.length > 0 || this.cancelRequest !== undefined;
  }

  isDue(): boolean {
    return !this.input.sendAt || Date.parse(this.input.sendAt) <= this.now();
  }

  /** What to do now. */
  next(): CampaignStep {
    if (this.effects.length > 0) return { kind: 'apply', effect: this.effects[0] };
    if (this.cancelRequest) return { kind: 'cancel' };
    if (this.paused) return { kind: 'wait' };
    if (!this.isDue()) return { kind: 'wait', ms: Date.parse(this.input.sendAt!) - this.now() };
    if (this.exhausted && this.inFlight === 0) return { kind: 'complete' };
    if (this.quotaUntil > this.now()) return { kind: 'wait', ms: this.quotaUntil - this.now() };
    if (this.exhausted) return { kind: 'page', limit: 0 };
    const { pageSize, window } = this.input.pacing;
    const free = window - this.inFlight;
    const wanted = Math.min(pageSize, free);
    // Too few free places for a page worth its activity: look at the window again later.
    if (wanted < this.minPage()) return { kind: 'page', limit: 0 };
    this.refill();
    const target = Math.min(wanted, this.capacity());
    if (this.tokens < target) return { kind: 'wait', ms: Math.ceil(((target - this.tokens) * 1000) / this.input.pacing.ratePerSecond!) };
    return { kind: 'page', limit: Math.min(wanted, Math.floor(this.tokens)) };
  }

  /** How long to wait before the next look, after a page that handed over nothing new. */
  pollDelayMs(): number {
    return this.pollMs;
  }

  /** A page (or a look at the window) is done. Returns whether the workflow should wait before the next step. */
  paged(result: PageResult, limit: number): boolean {
    this.steps++;
    this.handedOver += result.handedOver;
    this.cursor = result.cursor ?? this.cursor;
    // A look at the window (limit 0) says nothing of the list.
    if (limit > 0) this.exhausted = result.exhausted;
    this.quotaUntil = result.quotaRetryAfterMs ? this.now() + result.quotaRetryAfterMs : 0;
    if (this.input.pacing.ratePerSecond) this.tokens -= result.handedOver;
    // Polls back off while nothing changes (the last emails retrying for hours), and start
    // again fast when something does.
    this.pollMs = result.inFlight === this.lastInFlight && result.handedOver === 0 ? Math.min(MAX_POLL_MS, this.pollMs * 2) : MIN_POLL_MS;
    this.lastInFlight = result.inFlight;
    this.inFlight = result.inFlight;
    return limit === 0 || result.handedOver === 0;
  }

  /** The oldest effect has been applied. */
  effectApplied(): void {
    const effect = this.effects.shift();
    if (effect) this.appliedSeq = effect.seq;
  }

  finish(status: 'completed' | 'cancelled'): void {
    this.finished = status;
  }

  /** Time for a new run: this one has taken its share of steps. */
  shouldContinueAsNew(): boolean {
    return this.steps >= this.input.pacing.pagesPerRun;
  }

  /** The input of the next run. */
  carry(): SendCampaignInput {
    this.refill();
    const carried: CampaignCarry = {
      cursor: this.cursor,
      handedOver: this.handedOver,
      exhausted: this.exhausted,
      inFlight: this.inFlight,
      paused: this.paused,
      tokens: this.tokens,
      tokensAt: this.tokensAt,
      runs: this.runs,
    };
    return { ...this.input, carried };
  }

  /** A page is worth an activity when it fills a quarter of the window (or of a page). */
  private minPage(): number {
    return Math.max(1, Math.floor(Math.min(this.input.pacing.pageSize, this.input.pacing.window) / 4));
  }

  /** The token bucket of the rate: one second's worth at most. */
  private capacity(): number {
    const rate = this.input.pacing.ratePerSecond;
    return rate ? Math.max(1, rate) : Number.POSITIVE_INFINITY;
  }

  private refill(): void {
    const rate = this.input.pacing.ratePerSecond;
    const now = this.now();
    if (rate) this.tokens = Math.min(this.capacity(), this.tokens + ((now - this.tokensAt) * rate) / 1000);
    this.tokensAt = now;
  }

  private mustNotBeFinished(): void {
    if (this.finished || this.cancelRequest) {
      throw ApplicationFailure.create({
        type: CAMPAIGN_FINISHED,
        message: `the campaign is already ${this.finished ?? 'being cancelled'}`,
      });
    }
  }
}
