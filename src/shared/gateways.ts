import type { DeliveryPolicy } from './workflow-input';
import { SMTP_GATEWAY_UNAVAILABLE, SMTP_UNCERTAIN_FAILURE } from './errors';

// Gateways as the workflow sees them: names, in priority order, and whether each is
// rate-limited. Their URLs and credentials stay in the worker (src/config.ts, src/smtp/).

/** A gateway's name: it appears in task queue names, logs and the attempts' record. */
export const GATEWAY_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** The one gateway of SMTP_URL (and of the development sink). */
export const DEFAULT_GATEWAY = 'default';

/** One gateway of an email's route. */
export interface GatewayRef {
  name: string;
  /** Rate-limited gateways are reached through a task queue of their own (server-side limit). */
  rateLimited: boolean;
}

/** Which gateway an attempt goes to, and whether its open circuit may send the email elsewhere. */
export interface SendTarget {
  gateway: string;
  /** False when the email has no other gateway: an open circuit never holds back its last one. */
  mayFailOver: boolean;
}

/**
 * The activity task queue of a rate-limited gateway. Its workers set the gateway's rate as the
 * queue's server-side limit (maxTaskQueueActivitiesPerSecond), which holds across every worker.
 */
export function gatewayTaskQueue(taskQueue: string, gateway: string): string {
  return `${taskQueue}-gateway-${gateway}`;
}

// ---------------------------------------------------------------------------------------------
// What a failure says: about the gateway (the next attempt goes to the next gateway), or about
// this message (the next attempt stays where it is).

/** What the SMTP layer knows of a failed attempt. */
export interface FailureFacts {
  smtpCode?: number;
  errorCode?: string;
  /** The whole message had gone out (the final dot) when the failure came. */
  dataSent: boolean;
}

/**
 * A failure says nothing about the message when no reply about it was read and the data had not
 * gone out (connection refused or reset, TLS, DNS, greeting or command timeouts), when the
 * gateway closes the session (421, RFC 5321 4.2.2 "service not available"), or when it refused
 * Herald's login (EAUTH: its configuration, not the message). Any other reply (450 greylisting,
 * 452 mailbox full, 451 4.7.x policy, ...) is about this message or its recipients.
 */
export function isGatewayFailure(f: FailureFacts): boolean {
  if (f.smtpCode === 421 || f.errorCode === 'EAUTH') return true;
  return f.smtpCode === undefined && !f.dataSent;
}

/** How a failed attempt moves an email's route. */
export type RouteFailure =
  | 'gateway' // the gateway is unusable: the next gateway, at once (a backoff once all failed)
  | 'uncertain' // cut after the final dot: the gateway may hold a copy
  | 'message'; // about this message: the same gateway, after the backoff (or the reply's delay)

/** The failure of an attempt as the workflow sees it (its ApplicationFailure type). */
export function routeFailureOf(errorType: string | undefined): RouteFailure {
  if (errorType === SMTP_GATEWAY_UNAVAILABLE) return 'gateway';
  if (errorType === SMTP_UNCERTAIN_FAILURE) return 'uncertain';
  return 'message';
}

/**
 * The failures the retry policy must hand back to the workflow instead of retrying on the same
 * gateway: uncertain outcomes always (the bound on copies), gateway failures when there is
 * another gateway to go to (with one gateway the retry policy's backoff is all there is to do).
 */
export function routeChangingFailureTypes(mayFailOver: boolean): string[] {
  return mayFailOver ? [SMTP_UNCERTAIN_FAILURE, SMTP_GATEWAY_UNAVAILABLE] : [SMTP_UNCERTAIN_FAILURE];
}

// ---------------------------------------------------------------------------------------------
// The bound on copies. A connection cut after the final dot (RFC 1047) may leave a copy at the
// gateway. After such an uncertain outcome the message is sent once more through the same
// gateway at most; after a second one, only through another gateway; when every gateway of the
// email has had its two, the email is held (paused by Herald) until an operator resumes or
// cancels it. So without an operator an email leaves at most 2 copies per gateway of its route.

/** Resends through one gateway after an uncertain outcome there. */
export const UNCERTAIN_RESENDS_PER_GATEWAY = 1;
/** Who holds an email once no gateway may take it again (the timeline's actor). */
export const HERALD_ACTOR = 'herald';

export type RouteDecision = { gateway: GatewayRef; delayMs: number } | { hold: string };

type Backoff = Pick<DeliveryPolicy, 'initialIntervalMs' | 'backoffCoefficient' | 'maximumIntervalMs'>;

/**
 * An email's route through its gateways: which one the next attempt goes to, and after how long.
 * Plain data and rules, kept by the workflow (its state is replayed from history).
 */
export class GatewayRoute {
  private index = 0;
  /** Waits so far: the exponent of the backoff. */
  private waits = 0;
  private readonly uncertain: Record<string, number> = {};

  constructor(
    readonly gateways: readonly GatewayRef[],
    private readonly backoff: Backoff,
  ) {
    if (gateways.length === 0) throw new Error('an email needs at least one gateway');
  }

  current(): GatewayRef {
    return this.gateways[this.index];
  }

  target(): SendTarget {
    return { gateway: this.current().name, mayFailOver: this.usable().length > 1 };
  }

  /** Uncertain outcomes per gateway so far. */
  uncertainCounts(): Readonly<Record<string, number>> {
    return this.uncertain;
  }

  /**
   * Where the next attempt goes after a failure on the current gateway, and after how long.
   * @param retryAfterMs the delay the gateway's reply asked for ("try again in 5 minutes")
   */
  next(failure: RouteFailure, retryAfterMs?: number): RouteDecision {
    const here = this.current();
    if (failure === 'message') return this.stay(retryAfterMs);
    if (failure === 'uncertain') {
      this.uncertain[here.name] = (this.uncertain[here.name] ?? 0) + 1;
      if (this.mayTake(here)) return this.stay();
      const next = this.nextUsable();
      if (next === undefined) {
        return {
          hold: `every gateway of this email cut the connection after the final dot ${UNCERTAIN_RESENDS_PER_GATEWAY + 1} times: it may have been delivered; resume to send it again, or cancel it`,
        };
      }
      return this.moveTo(next);
    }
    // A gateway failure: the next usable gateway in priority order; a whole round failed once
    // the route wraps around, and then it waits like any retry.
    return this.moveTo(this.nextUsable() ?? this.index);
  }

  /** An operator resumed a held email: every gateway may take it again, from the first. */
  forgive(): void {
    for (const name of Object.keys(this.uncertain)) delete this.uncertain[name];
    this.index = 0;
  }

  private stay(delayMs?: number): RouteDecision {
    return { gateway: this.current(), delayMs: delayMs ?? this.nextBackoff() };
  }

  private moveTo(index: number): RouteDecision {
    const wrapped = index <= this.index;
    this.index = index;
    return { gateway: this.current(), delayMs: wrapped ? this.nextBackoff() : 0 };
  }

  private mayTake(g: GatewayRef): boolean {
    return (this.uncertain[g.name] ?? 0) <= UNCERTAIN_RESENDS_PER_GATEWAY;
  }

  private usable(): GatewayRef[] {
    return this.gateways.filter((g) => this.mayTake(g));
  }

  /** The index of the next gateway after the current one (cyclic) that may still take it. */
  private nextUsable(): number | undefined {
    for (let step = 1; step <= this.gateways.length; step++) {
      const i = (this.index + step) % this.gateways.length;
      if (this.mayTake(this.gateways[i])) return i;
    }
    return undefined;
  }

  private nextBackoff(): number {
    const { initialIntervalMs, backoffCoefficient, maximumIntervalMs } = this.backoff;
    const delay = Math.min(maximumIntervalMs, initialIntervalMs * backoffCoefficient ** this.waits);
    this.waits++;
    return Math.round(delay);
  }
}
