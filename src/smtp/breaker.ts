// A circuit breaker per gateway, in each worker: after `failures` connection-level failures in
// a row the gateway is skipped for `coolDownMs`, then one attempt probes it; the probe's outcome
// closes the circuit or opens it for another cool-down. Attempts skipped go to the next gateway
// of their email (src/shared/gateways.ts); an email with no other gateway is never held back.

export interface BreakerOptions {
  failures: number;
  coolDownMs: number;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

export type Admission = { allowed: true; probe: boolean } | { allowed: false; openForMs: number };

export interface BreakerEvents {
  opened(gateway: string, failures: number, coolDownMs: number): void;
  closed(gateway: string): void;
}

export class CircuitBreaker {
  private consecutive = 0;
  private openUntil = 0;
  private probing = false;
  state: CircuitState = 'closed';

  constructor(
    readonly gateway: string,
    private readonly options: BreakerOptions,
    private readonly events?: Partial<BreakerEvents>,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether an attempt may go to this gateway now. While open, none may (unless it is the
   * email's last gateway: `mustTry`); once the cool-down is over, one probe at a time.
   */
  admit(mustTry = false): Admission {
    if (this.state === 'open' && this.now() >= this.openUntil) this.state = 'half-open';
    if (this.state === 'closed' || mustTry) return { allowed: true, probe: false };
    if (this.state === 'half-open' && !this.probing) {
      this.probing = true;
      return { allowed: true, probe: true };
    }
    return { allowed: false, openForMs: Math.max(0, this.openUntil - this.now()) };
  }

  /** The gateway answered (any reply, even a refusal of the message). */
  succeeded(probe: boolean): void {
    if (probe) this.probing = false;
    this.consecutive = 0;
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.events?.closed?.(this.gateway);
    }
  }

  /** A connection-level failure: refused, cut, timed out, 421, TLS. */
  failed(probe: boolean): void {
    if (probe) this.probing = false;
    this.consecutive++;
    if (this.state === 'half-open' || (this.state === 'closed' && this.consecutive >= this.options.failures)) {
      this.state = 'open';
      this.openUntil = this.now() + this.options.coolDownMs;
      this.events?.opened?.(this.gateway, this.consecutive, this.options.coolDownMs);
    }
  }

  /** An attempt admitted as the probe ended without reaching the gateway (nothing to send). */
  released(probe: boolean): void {
    if (probe) this.probing = false;
  }
}

/** One breaker per gateway name, created on first use. */
export function createBreakers(options: BreakerOptions, events?: Partial<BreakerEvents>, now?: () => number) {
  const breakers = new Map<string, CircuitBreaker>();
  return {
    of(gateway: string): CircuitBreaker {
      let breaker = breakers.get(gateway);
      if (!breaker) breakers.set(gateway, (breaker = new CircuitBreaker(gateway, options, events, now)));
      return breaker;
    },
  };
}

export type Breakers = ReturnType<typeof createBreakers>;
