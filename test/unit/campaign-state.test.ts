import { CampaignState, MAX_POLL_MS, MIN_POLL_MS } from '../../src/workflows/campaign-state';
import type { CampaignPacing, PageResult, SendCampaignInput } from '../../src/shared';

// The campaign's state without Temporal: window, rate, sendAt, controls, continue-as-new.

function stateOf(pacing: Partial<CampaignPacing> = {}, extra: Partial<SendCampaignInput> = {}) {
  let now = Date.parse('2030-01-01T00:00:00Z');
  const clock = { advance: (ms: number) => (now += ms) };
  const input: SendCampaignInput = {
    campaignId: 'c1',
    tenantId: 't',
    pacing: { window: 100, pageSize: 40, pagesPerRun: 10, ...pacing },
    ...extra,
  };
  return { state: new CampaignState(input, () => now), clock };
}

const page = (handedOver: number, inFlight: number, extra: Partial<PageResult> = {}): PageResult => ({
  handedOver,
  cursor: String(handedOver),
  exhausted: false,
  inFlight,
  ...extra,
});

test('pages of pageSize while the window has room; a look at the window when it has not', () => {
  const { state } = stateOf();
  expect(state.next()).toEqual({ kind: 'page', limit: 40 });
  expect(state.paged(page(40, 40), 40)).toBe(false);
  expect(state.next()).toEqual({ kind: 'page', limit: 40 });
  state.paged(page(40, 80), 40);
  // 20 free places: still a quarter of a page or more
  expect(state.next()).toEqual({ kind: 'page', limit: 20 });
  state.paged(page(20, 100), 20);
  expect(state.next()).toEqual({ kind: 'page', limit: 0 });
  expect(state.paged(page(0, 95), 0)).toBe(true);
  // 5 free: under a quarter of a page (10), not worth an activity
  expect(state.next()).toEqual({ kind: 'page', limit: 0 });
});

test('the poll backs off while nothing changes and is quick again when something does', () => {
  const { state } = stateOf();
  state.paged(page(40, 100), 40);
  expect(state.pollDelayMs()).toBe(MIN_POLL_MS);
  state.paged(page(0, 100), 0);
  expect(state.pollDelayMs()).toBe(MIN_POLL_MS * 2);
  state.paged(page(0, 100), 0);
  expect(state.pollDelayMs()).toBe(MIN_POLL_MS * 4);
  for (let i = 0; i < 20; i++) state.paged(page(0, 100), 0);
  expect(state.pollDelayMs()).toBe(MAX_POLL_MS);
  state.paged(page(0, 90), 0);
  expect(state.pollDelayMs()).toBe(MIN_POLL_MS);
});

test('completes once every recipient is handed over and no email is left under way', () => {
  const { state } = stateOf();
  state.paged(page(30, 30, { exhausted: true }), 40);
  expect(state.next()).toEqual({ kind: 'page', limit: 0 });
  // a look does not forget that the list is exhausted
  state.paged(page(0, 3), 0);
  expect(state.exhausted).toBe(true);
  state.paged(page(0, 0), 0);
  expect(state.next()).toEqual({ kind: 'complete' });
});

test('keeps to the rate: one second of tokens at most, waits for the next ones', () => {
  const { state, clock } = stateOf({ ratePerSecond: 10, pageSize: 100, window: 1000 });
  expect(state.next()).toEqual({ kind: 'page', limit: 10 });
  state.paged(page(10, 10), 10);
  expect(state.next()).toEqual({ kind: 'wait', ms: 1000 });
  clock.advance(500);
  expect(state.next()).toEqual({ kind: 'wait', ms: 500 });
  clock.advance(10_000); // a long pause does not bank more than a second
  expect(state.next()).toEqual({ kind: 'page', limit: 10 });
});

test('a rate under one per second hands over one at a time', () => {
  const { state, clock } = stateOf({ ratePerSecond: 0.5 });
  expect(state.next()).toEqual({ kind: 'page', limit: 1 });
  state.paged(page(1, 1), 1);
  expect(state.next()).toEqual({ kind: 'wait', ms: 2000 });
  clock.advance(2000);
  expect(state.next()).toEqual({ kind: 'page', limit: 1 });
});

test('waits for sendAt', () => {
  const { state, clock } = stateOf({}, { sendAt: '2030-01-01T00:01:00Z' });
  expect(state.next()).toEqual({ kind: 'wait', ms: 60_000 });
  clock.advance(60_000);
  expect(state.next()).toEqual({ kind: 'page', limit: 40 });
});

test('waits for the next UTC day when the quota is used up', () => {
  const { state, clock } = stateOf();
  state.paged(page(0, 0, { quotaRetryAfterMs: 3_600_000 }), 40);
  expect(state.next()).toEqual({ kind: 'wait', ms: 3_600_000 });
  clock.advance(3_600_000);
  expect(state.next()).toEqual({ kind: 'page', limit: 40 });
});

test('pause and resume: validated, applied in order as effects, an update waits for its own', () => {
  const { state } = stateOf();
  expect(() => state.controls.resume.validate()).toThrow(/not paused/);
  state.controls.pause.validate();
  state.controls.pause.apply({ actor: 'ops', reason: 'check' });
  const pauseSeq = state.lastEffectSeq();
  expect(() => state.controls.pause.validate()).toThrow(/already paused/);
  expect(state.view().status).toBe('paused');
  state.controls.resume.apply();
  const resumeSeq = state.lastEffectSeq();
  expect(state.next()).toEqual({ kind: 'apply', effect: { seq: pauseSeq, kind: 'pause', actor: 'ops', reason: 'check' } });
  state.effectApplied();
  expect(state.isApplied(pauseSeq)).toBe(true);
  expect(state.isApplied(resumeSeq)).toBe(false);
  expect(state.next()).toEqual({ kind: 'apply', effect: { seq: resumeSeq, kind: 'resume', actor: 'temporal', reason: undefined } });
  state.effectApplied();
  expect(state.next()).toEqual({ kind: 'page', limit: 40 });
});

test('a paused campaign waits (for a control) and hands nothing over', () => {
  const { state } = stateOf();
  state.controls.pause.apply();
  state.effectApplied();
  expect(state.next()).toEqual({ kind: 'wait' });
  expect(state.hasWork()).toBe(false);
});

test('cancel wins over paging; afterwards every control is refused', () => {
  const { state } = stateOf();
  state.controls.cancel.apply({ actor: 'ops' });
  expect(state.next()).toEqual({ kind: 'cancel' });
  expect(state.accepts(state.controls.pause)).toBe(false);
  expect(() => state.controls.cancel.validate()).toThrow(/being cancelled/);
  state.finish('cancelled');
  expect(state.view().status).toBe('cancelled');
});

test('continue-as-new after pagesPerRun steps carries what the next run needs', () => {
  const { state, clock } = stateOf({ pagesPerRun: 2, ratePerSecond: 5 });
  state.paged({ handedOver: 5, cursor: '17', exhausted: false, inFlight: 5 }, 5);
  expect(state.shouldContinueAsNew()).toBe(false);
  state.controls.pause.apply();
  state.effectApplied();
  state.paged({ handedOver: 0, cursor: null, exhausted: false, inFlight: 4 }, 0);
  expect(state.shouldContinueAsNew()).toBe(true);
  clock.advance(100);
  const next = state.carry();
  expect(next.carried).toMatchObject({ cursor: '17', handedOver: 5, inFlight: 4, paused: true, runs: 1, exhausted: false });
  const { state: following } = { state: new CampaignState(JSON.parse(JSON.stringify(next)), () => Date.parse('2030-01-01T00:00:01Z')) };
  expect(following.view()).toMatchObject({ handedOver: 5, paused: true, runs: 2 });
  expect(following.steps).toBe(0);
});

test('without a rate, the carried bucket (Infinity, null in JSON) stays unlimited', () => {
  const { state } = stateOf();
  const next = JSON.parse(JSON.stringify(state.carry()));
  const following = new CampaignState(next, () => 0);
  expect(following.next()).toEqual({ kind: 'page', limit: 40 });
});
