/**
 * A gateway's reply as a tenant may read it: without the gateway's host, port or user name,
 * which some servers repeat in their replies (421 smtp.internal.example Service not available).
 */
export function redactGateway(text: string | undefined, gatewayUrl: string): string | undefined {
  if (!text) return text;
  const { hostname, port, username } = new URL(gatewayUrl);
  const secrets = [port ? `${hostname}:${port}` : '', hostname, decodeURIComponent(username)].filter((s) => s.length > 1);
  return secrets.reduce((out, secret) => out.split(secret).join('<gateway>'), text);
}

interface SmtpOutcome {
  message?: string;
  response?: string;
  rejectedErrors?: Array<{ response?: string }>;
}

/** A nodemailer result or error with every reply redacted (the same object shape, copied). */
export function redactOutcome<T>(outcome: T, gatewayUrl: string): T {
  if (!outcome || typeof outcome !== 'object') return outcome;
  const o = outcome as SmtpOutcome;
  return Object.assign(Object.create(Object.getPrototypeOf(o)), o, {
    message: redactGateway(o.message, gatewayUrl),
    response: redactGateway(o.response, gatewayUrl),
    rejectedErrors: o.rejectedErrors?.map((e) =>
      Object.assign(Object.create(Object.getPrototypeOf(e)), e, { response: redactGateway(e.response, gatewayUrl) }),
    ),
  });
}

/** A gateway as operators' metrics name it: host and port, never the credentials. */
export function gatewayName(gatewayUrl: string): string {
  try {
    const { hostname, port, protocol } = new URL(gatewayUrl);
    return `${hostname}:${port || (protocol === 'smtps:' ? '465' : '25')}`;
  } catch {
    return 'unknown';
  }
}
