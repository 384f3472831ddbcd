import { classifySmtpError } from '../../src/smtp/classify';
import { FAILURE_TYPE_OF, failureTypeOf, SMTP_GATEWAY_UNAVAILABLE } from '../../src/shared';

test.each([
  // [nodemailer error, data sent, kind, says nothing about the message (next gateway)]
  [{ code: 'EENVELOPE', responseCode: 451, response: '451 4.3.0 later' }, false, 'transient', false],
  [{ code: 'EENVELOPE', responseCode: 450, response: '450 4.2.0 greylisted' }, false, 'transient', false],
  [{ code: 'EENVELOPE', responseCode: 452, response: '452 4.2.2 mailbox full' }, false, 'transient', false],
  [{ code: 'EENVELOPE', responseCode: 550, response: '550 5.1.1 unknown' }, false, 'permanent', false],
  [{ code: 'EMESSAGE', responseCode: 554, response: '554 5.6.0 spam' }, true, 'permanent', false],
  [{ code: 'EMESSAGE', responseCode: 452, response: '452 4.3.1 full' }, true, 'transient', false],
  [{ code: 'EPROTOCOL', responseCode: 421, response: '421 4.7.0 closing' }, false, 'transient', true],
  [{ code: 'EMESSAGE', responseCode: 421, response: '421 4.3.2 shutting down' }, true, 'transient', true],
  [{ code: 'ECONNECTION' }, false, 'transient', true],
  [{ code: 'ESOCKET' }, false, 'transient', true],
  [{ code: 'ETIMEDOUT' }, false, 'transient', true],
  [{ code: 'ETLS' }, false, 'transient', true],
  [{ code: 'EDNS' }, false, 'transient', true],
  [{ code: 'ECONNECTION' }, true, 'uncertain', false],
  [{ code: 'ETIMEDOUT' }, true, 'uncertain', false],
  // A login the gateway refused is about the gateway's configuration: another one may take it.
  [{ code: 'EAUTH', responseCode: 535, response: '535 5.7.8 bad credentials' }, false, 'transient', true],
  [{ code: 'EENVELOPE_NO_RECIPIENTS' }, false, 'permanent', false],
])('%j (data sent: %s) is %s (gateway failure: %s)', (error, dataSent, kind, gateway) => {
  const failure = classifySmtpError(error, dataSent as boolean);
  expect(failure.kind).toBe(kind);
  expect(failure.gateway).toBe(gateway);
  expect(failureTypeOf(failure.kind, failure.gateway)).toBe(gateway ? SMTP_GATEWAY_UNAVAILABLE : FAILURE_TYPE_OF[failure.kind]);
});

test('a "try again in N" reply carries its delay; per-recipient replies too', () => {
  expect(
    classifySmtpError({ code: 'EENVELOPE', responseCode: 450, response: '450 4.2.0 Greylisted, please try again in 5 minutes' }, false)
      .retryAfterMs,
  ).toBe(300_000);
  const deferred = classifySmtpError(
    {
      code: 'EENVELOPE',
      responseCode: 450,
      rejectedErrors: [{ recipient: 'a@x.org', responseCode: 450, response: '450 4.7.1 retry after 120 seconds' }],
    },
    false,
  );
  expect(deferred.retryAfterMs).toBe(120_000);
  expect(
    classifySmtpError({ code: 'EENVELOPE', responseCode: 550, response: '550 try again in 5 minutes' }, false).retryAfterMs,
  ).toBeUndefined();
});

test('per-recipient replies decide: all permanent is permanent', () => {
  const failure = classifySmtpError(
    {
      code: 'EENVELOPE',
      responseCode: 550,
      rejectedErrors: [
        { recipient: 'A@x.org', responseCode: 550, response: '550 no' },
        { recipient: 'b@x.org', responseCode: 553, response: '553 no' },
      ],
    },
    false,
  );
  expect(failure.kind).toBe('permanent');
  expect(failure.recipientReplies.map((r) => r.address)).toEqual(['a@x.org', 'b@x.org']);
});

test('per-recipient replies decide: any deferred makes it transient', () => {
  const failure = classifySmtpError(
    {
      code: 'EENVELOPE',
      responseCode: 550,
      rejectedErrors: [
        { recipient: 'a@x.org', responseCode: 550, response: '550 no' },
        { recipient: 'b@x.org', responseCode: 450, response: '450 later' },
      ],
    },
    false,
  );
  expect(failure.kind).toBe('transient');
  expect(failure.recipientReplies.map((r) => r.permanent)).toEqual([true, false]);
});
