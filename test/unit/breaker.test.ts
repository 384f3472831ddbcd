import { CircuitBreaker } from '../../src/smtp/breaker';

// One gateway's circuit breaker, on a clock of the test's own.

function breaker(failures = 3, coolDownMs = 10_000) {
  const clock = { now: 0 };
  const events: string[] = [];
  const b = new CircuitBreaker(
    'primary',
    { failures, coolDownMs },
    { opened: (g, n) => events.push(`open ${g} ${n}`), closed: (g) => events.push(`closed ${g}`) },
    () => clock.now,
  );
  return { b, clock, events };
}

test('opens after N connection failures in a row, skips for the cool-down, then admits one probe', () => {
  const { b, clock, events } = breaker();
  for (let i = 0; i < 2; i++) {
    expect(b.admit()).toEqual({ allowed: true, probe: false });
    b.failed(false);
  }
  expect(b.state).toBe('closed');
  b.admit();
  b.failed(false);
  expect(b.state).toBe('open');
  expect(events).toEqual(['open primary 3']);
  clock.now = 4_000;
  expect(b.admit()).toEqual({ allowed: false, openForMs: 6_000 });
  clock.now = 10_000;
  expect(b.admit()).toEqual({ allowed: true, probe: true });
  // Only one probe at a time.
  expect(b.admit()).toMatchObject({ allowed: false });
  b.succeeded(true);
  expect(b.state).toBe('closed');
  expect(events).toEqual(['open primary 3', 'closed primary']);
  expect(b.admit()).toEqual({ allowed: true, probe: false });
});

test('a failed probe opens it for another cool-down', () => {
  const { b, clock } = breaker(1, 1_000);
  b.admit();
  b.failed(false);
  clock.now = 1_000;
  expect(b.admit()).toEqual({ allowed: true, probe: true });
  b.failed(true);
  expect(b.state).toBe('open');
  clock.now = 1_500;
  expect(b.admit()).toEqual({ allowed: false, openForMs: 500 });
  clock.now = 2_000;
  expect(b.admit()).toEqual({ allowed: true, probe: true });
});

test('any reply resets the count: only failures in a row open it', () => {
  const { b } = breaker(2);
  b.failed(false);
  b.succeeded(false);
  b.failed(false);
  expect(b.state).toBe('closed');
});

test("an email's last gateway is tried even while its circuit is open", () => {
  const { b } = breaker(1);
  b.failed(false);
  expect(b.admit()).toMatchObject({ allowed: false });
  expect(b.admit(true)).toEqual({ allowed: true, probe: false });
});

test('a probe that never reached the gateway lets the next attempt probe', () => {
  const { b, clock } = breaker(1, 100);
  b.failed(false);
  clock.now = 100;
  expect(b.admit()).toEqual({ allowed: true, probe: true });
  b.released(true);
  expect(b.admit()).toEqual({ allowed: true, probe: true });
});
