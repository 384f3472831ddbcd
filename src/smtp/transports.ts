import nodemailer from 'nodemailer';
import type { Transporter, TransportOptions as NodemailerOptions } from 'nodemailer';
import { trackDataPhase } from './message';

export interface TransportOptions {
  maxConnections: number;
  /** Upper bound of one attempt; every SMTP timeout is set below it. */
  attemptTimeoutMs: number;
}

export interface TransportRegistry {
  get(gatewayUrl: string): Transporter;
  closeAll(): void;
}

/**
 * One pooled nodemailer transport per gateway URL, created on first use and reused by every
 * attempt. The pool never re-sends on its own (maxRequeues 0): retries belong to Temporal.
 */
export function createTransportRegistry(options: TransportOptions): TransportRegistry {
  const transports = new Map<string, Transporter>();
  // Leave a margin so nodemailer gives up before Temporal's startToCloseTimeout fires.
  const socketTimeout = Math.max(1000, Math.floor(options.attemptTimeoutMs * 0.8));
  const stepTimeout = Math.min(socketTimeout, 30_000);
  return {
    get(gatewayUrl) {
      let transport = transports.get(gatewayUrl);
      if (!transport) {
        // The options must sit in the one object with the URL: createTransport(url, options)
        // would take them as message defaults and build an unpooled transport with nodemailer's
        // own timeouts (10 min of socket inactivity).
        transport = nodemailer.createTransport({
          url: gatewayUrl,
          pool: true,
          maxConnections: options.maxConnections,
          maxMessages: 1000,
          maxRequeues: 0,
          connectionTimeout: stepTimeout,
          greetingTimeout: stepTimeout,
          socketTimeout,
          dnsTimeout: stepTimeout,
        } as NodemailerOptions);
        // Lets trackedMessageStream tell a cut before DATA from one after the final dot.
        transport.use('stream', trackDataPhase as never);
        transports.set(gatewayUrl, transport);
      }
      return transport;
    },
    closeAll() {
      for (const t of transports.values()) t.close();
      transports.clear();
    },
  };
}
