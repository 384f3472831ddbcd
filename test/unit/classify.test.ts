import { classifySmtpError } from '../../src/smtp/classify';

test.each([
  [{ code: 'EENVELOPE', responseCode: 451, response: '451 4.3.0 later' }, false, 'transient'],
  [{ code: 'EENVELOPE', responseCode: 550, response: '550 5.1.1 unknown' }, false, 'permanent'],
  [{ code: 'EMESSAGE', responseCode: 554, response: '554 5.6.0 spam' }, true, 'permanent'],
  [{ code: 'EMESSAGE', responseCode: 452, response: '452 4.3.1 full' }, true, 'transient'],
  [{ code: 'EPROTOCOL', responseCode: 421, response: '421 4.7.0 closing' }, false, 'transient'],
  [{ code: 'ECONNECTION' }, false, 'transient'],
  [{ code: 'ETIMEDOUT' }, false, 'transient'],
  [{ code: 'ECONNECTION' }, true, 'uncertain'],
  [{ code: 'ETIMEDOUT' }, true, 'uncertain'],
  [{ code: 'EAUTH', responseCode: 535, response: '535 5.7.8 bad credentials' }, false, 'permanent'],
])('%j (data sent: %s) is %s', (error, dataSent, kind) => {
  expect(classifySmtpError(error, dataSent).kind).toBe(kind);
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
