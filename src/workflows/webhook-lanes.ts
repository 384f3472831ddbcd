import type { ClaimedDelivery } from '../shared';

/**
 * The deliveries a webhook dispatcher holds, in lanes: one lane per email (its deliveries go out
 * one after the other, in the order they were stored, so an email's events arrive in order), at
 * most `concurrency` lanes at work at once, at most `capacity` deliveries held in all. Pure state,
 * tested without Temporal.
 */
export class WebhookLanes {
  /** Lane -> its deliveries, oldest first; Map order is the order lanes were opened. */
  private readonly lanes = new Map<string, ClaimedDelivery[]>();
  private readonly busy = new Set<string>();
  private held = 0;

  constructor(
    readonly concurrency: number,
    readonly capacity: number,
  ) {}

  add(delivery: ClaimedDelivery): void {
    const lane = this.lanes.get(delivery.lane);
    if (lane) lane.push(delivery);
    else this.lanes.set(delivery.lane, [delivery]);
    this.held++;
  }

  /** Room for more deliveries. */
  room(): number {
    return Math.max(0, this.capacity - this.held);
  }

  /** The ids held (for the claim to leave out). */
  ids(): string[] {
    return [...this.lanes.values()].flat().map((d) => d.id);
  }

  idle(): boolean {
    return this.held === 0;
  }

  /** The next deliveries to start: the head of each idle lane, oldest lanes first, within the concurrency. */
  start(): ClaimedDelivery[] {
    const started: ClaimedDelivery[] = [];
    for (const [lane, deliveries] of this.lanes) {
      if (this.busy.size >= this.concurrency) break;
      if (this.busy.has(lane)) continue;
      this.busy.add(lane);
      started.push(deliveries[0]);
    }
    return started;
  }

  /** A started delivery is done (delivered, given up or dropped): its lane may go on. */
  finish(delivery: ClaimedDelivery): void {
    const deliveries = this.lanes.get(delivery.lane);
    if (!deliveries || deliveries[0]?.id !== delivery.id) return;
    deliveries.shift();
    this.held--;
    this.busy.delete(delivery.lane);
    if (deliveries.length === 0) this.lanes.delete(delivery.lane);
  }

  /** Drops every delivery not started (the endpoint was disabled); they stay pending in PostgreSQL. */
  dropWaiting(): void {
    for (const [lane, deliveries] of this.lanes) {
      const keep = this.busy.has(lane) ? 1 : 0;
      this.held -= deliveries.length - keep;
      deliveries.splice(keep);
      if (deliveries.length === 0) this.lanes.delete(lane);
    }
  }
}
