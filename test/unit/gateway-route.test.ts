import {
  GatewayRoute,
  routeChangingFailureTypes,
  routeFailureOf,
  SMTP_GATEWAY_UNAVAILABLE,
  SMTP_RECIPIENTS_DEFERRED,
  SMTP_TRANSIENT_FAILURE,
  SMTP_UNCERTAIN_FAILURE,
  type GatewayRef,
} from '../../src/shared';

// Where an email's next attempt goes, and after how long: failover, backoff, the bound on copies.

const backoff = { initialIntervalMs: 1_000, backoffCoefficient: 2, maximumIntervalMs: 5_000 };
const gw = (name: string, rateLimited = false): GatewayRef => ({ name, rateLimited });
const step = (route: GatewayRoute, failure: Parameters<GatewayRoute['next']>[0], retryAfterMs?: number) => {
  const d = route.next(failure, retryAfterMs);
  return 'hold' in d ? 'hold' : `${d.gateway.name} +${d.delayMs}`;
};

test('a gateway failure goes to the next gateway at once; a whole round failed waits the backoff', () => {
  const route = new GatewayRoute([gw('primary'), gw('secondary'), gw('tertiary')], backoff);
  expect(route.target()).toEqual({ gateway: 'primary', mayFailOver: true });
  expect(step(route, 'gateway')).toBe('secondary +0');
  expect(step(route, 'gateway')).toBe('tertiary +0');
  expect(step(route, 'gateway')).toBe('primary +1000');
  expect(step(route, 'gateway')).toBe('secondary +0');
  expect(step(route, 'gateway')).toBe('tertiary +0');
  expect(step(route, 'gateway')).toBe('primary +2000');
});

test('a failure about the message stays on its gateway, after the backoff or the delay the reply asked for', () => {
  const route = new GatewayRoute([gw('primary'), gw('secondary')], backoff);
  expect(step(route, 'gateway')).toBe('secondary +0');
  expect(step(route, 'message')).toBe('secondary +1000');
  expect(step(route, 'message', 300_000)).toBe('secondary +300000');
  expect(step(route, 'message')).toBe('secondary +2000');
  expect(step(route, 'message')).toBe('secondary +4000');
  expect(step(route, 'message')).toBe('secondary +5000');
});

test('one gateway: every failure waits the backoff, and an open circuit never skips it', () => {
  const route = new GatewayRoute([gw('default')], backoff);
  expect(route.target()).toEqual({ gateway: 'default', mayFailOver: false });
  expect(step(route, 'gateway')).toBe('default +1000');
  expect(step(route, 'gateway')).toBe('default +2000');
  expect(routeChangingFailureTypes(false)).toEqual([SMTP_UNCERTAIN_FAILURE]);
  expect(routeChangingFailureTypes(true)).toEqual([SMTP_UNCERTAIN_FAILURE, SMTP_GATEWAY_UNAVAILABLE]);
});

test('the bound on copies: one resend through a gateway after an uncertain outcome, then another gateway, then hold', () => {
  const route = new GatewayRoute([gw('primary'), gw('secondary')], backoff);
  expect(step(route, 'uncertain')).toBe('primary +1000');
  expect(step(route, 'uncertain')).toBe('secondary +0');
  // The primary is out for this email: a gateway failure on the secondary has nowhere to go but itself.
  expect(route.target()).toEqual({ gateway: 'secondary', mayFailOver: false });
  expect(step(route, 'gateway')).toBe('secondary +2000');
  expect(step(route, 'uncertain')).toBe('secondary +4000');
  expect(step(route, 'uncertain')).toBe('hold');
  expect(route.uncertainCounts()).toEqual({ primary: 2, secondary: 2 });
  // An operator's resume: every gateway again, from the first.
  route.forgive();
  expect(route.target()).toEqual({ gateway: 'primary', mayFailOver: true });
  expect(step(route, 'uncertain')).toBe('primary +5000');
});

test('one gateway cutting after the dot: two copies at most, then hold', () => {
  const route = new GatewayRoute([gw('default')], backoff);
  expect(step(route, 'uncertain')).toBe('default +1000');
  const held = route.next('uncertain');
  expect(held).toEqual({ hold: expect.stringMatching(/cut the connection after the final dot 2 times.*resume.*cancel/) });
});

test('failure types name the route change', () => {
  expect(routeFailureOf(SMTP_GATEWAY_UNAVAILABLE)).toBe('gateway');
  expect(routeFailureOf(SMTP_UNCERTAIN_FAILURE)).toBe('uncertain');
  expect(routeFailureOf(SMTP_TRANSIENT_FAILURE)).toBe('message');
  expect(routeFailureOf(SMTP_RECIPIENTS_DEFERRED)).toBe('message');
  expect(routeFailureOf(undefined)).toBe('message');
});
