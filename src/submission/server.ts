import type { AddressInfo, Socket } from 'node:net';
import ipaddr from 'ipaddr.js';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { SMTPConnection, SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection';
import type { Logger } from '../logger';
import type { TenantStore } from '../db/tenants';
import { requestHash, type DeliveryService, type EmailSubmission } from '../deliveries/service';
import { DeliveryError, senderNotAllowed } from '../deliveries/errors';
import { maySendFrom, type Tenant } from '../shared';
import { hashKey, looksLikeKey } from '../tenants/keys';
import { MessageRefused, prepareSubmittedMessage } from './message';
import { OWN_STATUS, REPLIES, replyFor, smtpError, type SmtpReply } from './replies';
import { isAcceptableAddress } from './rules';

// SMTP submission (RFC 6409): any program that speaks SMTP hands Herald a message, which becomes
// one email of the key's tenant, accepted by the same service as the API's (same checks, same
// storage, same workflow). The 250 after the final dot means what the API's 202 means.
//
// - AUTH PLAIN or LOGIN; the password is an API key with the send scope, the user name is not
//   read. AUTH needs TLS (STARTTLS, or the implicit TLS port) except from loopback. MAIL without
//   AUTH is refused, always: Herald never relays.
// - Each AUTH and each message (MAIL FROM) is one request of the tenant's request rate, taken in
//   the same statement that checks the key again: a key revoked during a session stops at its
//   next message, and a session sends no faster than the API would accept.

export interface SubmissionOptions {
  host: string;
  /** STARTTLS listener (0: any free port). */
  port: number;
  /** Implicit TLS listener, when configured. */
  tlsPort?: number;
  /** Certificate and key (PEM); without them STARTTLS is not offered. */
  tls?: { cert: Buffer | string; key: Buffer | string };
  maxMessageBytes: number;
  maxRecipients: number;
  /** Per listener. */
  maxConnections: number;
  maxConnectionsPerTenant: number;
  idleTimeoutMs: number;
  /** From DATA to the final dot. */
  dataTimeoutMs: number;
  messageIdDomain: string;
  /** Whether AUTH may go without TLS from this client address: loopback only (a test stands in for a remote client). */
  plaintextAuthAllowed?: (remoteAddress: string) => boolean;
}

export interface SubmissionDeps {
  deliveries: Pick<DeliveryService, 'accept'>;
  tenants: Pick<TenantStore, 'authenticate'>;
  logger: Logger;
}

export interface RunningSubmission {
  port: number;
  tlsPort?: number;
  stop(): Promise<void>;
}

/** What a successful AUTH leaves on the session: the key (hashed) and its tenant as last read. */
interface Submitter {
  keyHash: string;
  tenant: Tenant;
}

export function isLoopback(address: string): boolean {
  try {
    return ipaddr.process(address).range() === 'loopback';
  } catch {
    return false;
  }
}

/** Open authenticated sessions per tenant, shared by both listeners of a process. */
class TenantSessions {
  private readonly tenantOf = new Map<string, string>();
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  claim(sessionId: string, tenantId: string): boolean {
    this.release(sessionId);
    const count = this.counts.get(tenantId) ?? 0;
    if (count >= this.max) return false;
    this.counts.set(tenantId, count + 1);
    this.tenantOf.set(sessionId, tenantId);
    return true;
  }

  release(sessionId: string): void {
    const tenantId = this.tenantOf.get(sessionId);
    if (tenantId === undefined) return;
    this.tenantOf.delete(sessionId);
    const left = (this.counts.get(tenantId) ?? 1) - 1;
    if (left > 0) this.counts.set(tenantId, left);
    else this.counts.delete(tenantId);
  }
}

/**
 * smtp-server with two changes to each connection: a reply text that starts with its own
 * enhanced status code is sent as it is (smtp-server would put its own guess in front: 5.1.1
 * for every 550, 4.4.2 for every 421), and AUTH without TLS from a client that may not do so is
 * refused before the client sends its credentials.
 */
class SubmissionListener extends SMTPServer {
  private readonly byId = new Map<string, SMTPConnection>();

  constructor(
    options: SMTPServerOptions,
    private readonly mayAuthenticate: (session: SMTPServerSession) => boolean,
  ) {
    super(options);
  }

  override connect(socket: Socket, socketOptions?: SMTPConnectionOptions | null): void {
    super.connect(socket, socketOptions);
    let newest: SMTPConnection | undefined;
    for (const connection of this.connections) newest = connection;
    if (newest && !this.byId.has(newest.session.id)) this.adopt(newest);
  }

  /** Ends a session at once with this reply (a 421). */
  cutOff(session: SMTPServerSession, r: SmtpReply): void {
    this.byId.get(session.id)?.send(r.code, `${r.status} ${r.text}`);
  }

  forget(session: SMTPServerSession): void {
    this.byId.delete(session.id);
  }

  private adopt(connection: SMTPConnection): void {
    this.byId.set(connection.session.id, connection);
    const send = connection.send.bind(connection);
    connection.send = (code, data, context) => send(code, data, typeof data === 'string' && OWN_STATUS.test(data) ? false : context);
    const auth = connection.handler_AUTH.bind(connection);
    connection.handler_AUTH = (command, callback) => {
      if (this.mayAuthenticate(connection.session)) return auth(command, callback);
      const r = REPLIES.encryptionRequired;
      connection.send(r.code, `${r.status} ${r.text}`);
      callback();
    };
  }
}

export async function startSubmissionServer(
  { deliveries, tenants, logger }: SubmissionDeps,
  options: SubmissionOptions,
): Promise<RunningSubmission> {
  const plaintextAuthAllowed = options.plaintextAuthAllowed ?? isLoopback;
  if (!options.tls && !isLoopback(options.host)) {
    logger.warn('SMTP submission has no certificate (SMTP_SUBMISSION_TLS_CERT_FILE): only clients on loopback can authenticate');
  }
  const mayAuthenticate = (session: SMTPServerSession) => session.secure || plaintextAuthAllowed(session.remoteAddress);
  const sessions = new TenantSessions(options.maxConnectionsPerTenant);
  const listeners: SubmissionListener[] = [];
  const cutOff = (session: SMTPServerSession, r: SmtpReply) => listeners.forEach((l) => l.cutOff(session, r));
  const fail = (callback: (err?: Error | null) => void, r: SmtpReply) => callback(smtpError(r));

  /** The key again (revoked since AUTH?), its tenant as it is now, and one request of its rate. */
  async function recheck(submitter: Submitter): Promise<SmtpReply | Tenant> {
    const found = await tenants.authenticate(submitter.keyHash);
    if (!found || !found.scopes.includes('send')) return REPLIES.keyNoLongerValid;
    if (!found.rate.allowed) return REPLIES.rateLimited(found.rate.retryAfterS);
    return found.tenant;
  }

  /** Stores the message and starts its delivery, through the one accept path of the service. */
  async function submit(raw: Buffer, session: SMTPServerSession, tenant: Tenant): Promise<SmtpReply> {
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address.toLowerCase() : '';
    const recipients = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
    const prepared = prepareSubmittedMessage(raw, { messageIdDomain: options.messageIdDomain });
    // The envelope decides who receives it; the header fields only say who sees whom.
    const to = new Set(prepared.to);
    const cc = new Set(prepared.cc);
    const submission: EmailSubmission = {
      from: prepared.from,
      subject: prepared.subject,
      content: {
        to: recipients.filter((a) => to.has(a)).map((address) => ({ address })),
        cc: recipients.filter((a) => !to.has(a) && cc.has(a)).map((address) => ({ address })),
        bcc: recipients.filter((a) => !to.has(a) && !cc.has(a)).map((address) => ({ address })),
        replyTo: [],
        headers: {},
      },
      attachments: [],
      metadata: {},
      tags: [],
      source: 'smtp',
      submitted: { message: prepared.message, mailFrom, messageId: prepared.messageId, authors: prepared.authors },
    };
    // The same key with the same envelope is the same submission: a resend after a lost 250.
    const hash = requestHash(JSON.stringify({ source: 'smtp', mailFrom, recipients: [...recipients].sort() }));
    const accept = (idempotencyKey?: string) => deliveries.accept(tenant, submission, { idempotencyKey, requestHash: hash });
    const { idempotency } = prepared;
    const accepted = await accept(idempotency?.key).catch((err: unknown) => {
      // A client asked for X-Herald-Idempotency-Key and is told it reused it; a Message-ID used
      // again with another envelope only shows that this message is not a resend.
      const reused = err instanceof DeliveryError && err.code === 'idempotency-key-reused';
      if (reused && idempotency?.from === 'message-id') return accept(undefined);
      throw err;
    });
    return REPLIES.accepted(accepted.id, accepted.replayed);
  }

  const handlers: Pick<SMTPServerOptions, 'onAuth' | 'onMailFrom' | 'onRcptTo' | 'onData' | 'onClose'> = {
    onAuth(auth, session, callback) {
      if (!mayAuthenticate(session)) return fail(callback, REPLIES.encryptionRequired);
      const key = auth.password ?? '';
      if (!looksLikeKey(key)) return fail(callback, REPLIES.badCredentials);
      const keyHash = hashKey(key);
      tenants.authenticate(keyHash).then(
        (found) => {
          if (!found) return fail(callback, REPLIES.badCredentials);
          if (!found.scopes.includes('send')) return fail(callback, REPLIES.missingScope);
          if (!found.rate.allowed) return fail(callback, REPLIES.authRateLimited(found.rate.retryAfterS));
          if (!sessions.claim(session.id, found.tenant.id))
            return fail(callback, REPLIES.tooManyConnections(options.maxConnectionsPerTenant));
          const user: Submitter = { keyHash, tenant: found.tenant };
          callback(null, { user });
        },
        (err) => {
          logger.error({ err }, 'SMTP submission: could not check a key');
          fail(callback, REPLIES.authUnavailable);
        },
      );
    },

    onMailFrom(address, session, callback) {
      const submitter = session.user as Submitter | undefined;
      // smtp-server refuses MAIL before AUTH already; this says it once more, here: never relay.
      if (!submitter) return fail(callback, REPLIES.authRequired);
      const mailFrom = address.address.toLowerCase();
      if (!isAcceptableAddress(mailFrom)) return fail(callback, REPLIES.badSender);
      recheck(submitter).then(
        (result) => {
          if (!('id' in result)) return fail(callback, result);
          if (!maySendFrom(result, mailFrom)) return fail(callback, replyFor(senderNotAllowed(result, mailFrom)));
          submitter.tenant = result;
          callback();
        },
        (err) => {
          logger.error({ err }, 'SMTP submission: could not check a key');
          fail(callback, REPLIES.tryAgain);
        },
      );
    },

    onRcptTo(address, _session, callback) {
      if (!isAcceptableAddress(address.address.toLowerCase())) return fail(callback, REPLIES.badRecipient);
      callback();
    },

    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      // A client that does not finish its message in time is cut off; nothing is stored.
      const deadline = setTimeout(() => cutOff(session, REPLIES.dataTimeout), options.dataTimeoutMs);
      stream.on('data', (chunk: Buffer) => {
        // Past the limit nothing more is kept; smtp-server answers 552 5.3.4 at the dot.
        if (!stream.sizeExceeded) chunks.push(chunk);
      });
      // A client gone before the final dot: the stream is destroyed, never ended; nothing is stored.
      stream.on('error', () => {});
      stream.once('close', () => clearTimeout(deadline));
      stream.once('end', () => {
        clearTimeout(deadline);
        if (stream.sizeExceeded) return fail(callback, REPLIES.messageTooLarge(options.maxMessageBytes));
        const submitter = session.user as Submitter | undefined;
        if (!submitter) return fail(callback, REPLIES.authRequired);
        submit(Buffer.concat(chunks), session, submitter.tenant).then(
          (r) => callback(null, `${r.status} ${r.text}`),
          (err) => {
            if (err instanceof MessageRefused) return fail(callback, REPLIES.badMessage(err.message));
            const r = replyFor(err);
            if (r === REPLIES.tryAgain) logger.error({ err }, 'SMTP submission: a message could not be accepted');
            fail(callback, r);
          },
        );
      });
    },

    onClose(session) {
      sessions.release(session.id);
      listeners.forEach((l) => l.forget(session));
    },
  };

  const common: SMTPServerOptions = {
    banner: 'Herald SMTP submission',
    logger: false,
    size: options.maxMessageBytes,
    rejectOversized: true,
    authMethods: ['PLAIN', 'LOGIN'],
    // Herald's own rule (mayAuthenticate) decides: TLS, or a loopback client.
    allowInsecureAuth: true,
    hideENHANCEDSTATUSCODES: false,
    // Addresses are checked by the API's rule, which is ASCII; DSN and REQUIRETLS are not offered.
    hideSMTPUTF8: true,
    hideDSN: true,
    hideREQUIRETLS: true,
    disableReverseLookup: true,
    maxClients: options.maxConnections,
    maxRecipients: options.maxRecipients,
    socketTimeout: options.idleTimeoutMs,
    closeTimeout: 5_000,
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : { disabledCommands: ['STARTTLS'] }),
    ...handlers,
  };

  const listen = async (port: number, secure: boolean): Promise<SubmissionListener> => {
    const listener = new SubmissionListener({ ...common, secure }, mayAuthenticate);
    // A client's socket error (reset, bad TLS handshake) concerns that client only.
    listener.on('error', (err) => logger.debug({ err }, 'SMTP submission: connection error'));
    await new Promise<void>((resolve, reject) => {
      listener.server.once('error', reject);
      listener.listen(port, options.host, () => {
        listener.server.off('error', reject);
        resolve();
      });
    });
    listeners.push(listener);
    return listener;
  };
  const portOf = (l: SubmissionListener) => (l.server.address() as AddressInfo).port;

  const starttls = await listen(options.port, false);
  const implicit =
    options.tlsPort !== undefined
      ? await listen(options.tlsPort, true).catch(async (err) => {
          await new Promise<void>((resolve) => starttls.close(() => resolve()));
          throw err;
        })
      : undefined;
  return {
    port: portOf(starttls),
    tlsPort: implicit ? portOf(implicit) : undefined,
    async stop() {
      await Promise.all(listeners.map((l) => new Promise<void>((resolve) => l.close(() => resolve()))));
    },
  };
}
