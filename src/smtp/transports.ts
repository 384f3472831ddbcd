import nodemailer from 'nodemailer';
import type { Transporter, TransportOptions as NodemailerOptions } from 'nodemailer';
import type { GatewayConfig } from '../config';
import { trackDataPhase } from './message';

export interface TransportOptions {
  /** The configured gateways (sorted here by priority, lower first). */
  gateways: readonly GatewayConfig[];
  /** Pooled connections per gateway when its configuration does not say. */
  maxConnections: number;
  /** Upper bound of one attempt; every SMTP timeout is set below it. */
  attemptTimeoutMs: number;
}

export interface TransportRegistry {
  /** The gateways, in priority order (names, URLs, limits): for the worker only. */
  readonly gateways: readonly GatewayConfig[];
  /** The gateway of this name, or undefined when none is configured by that name. */
  gateway(name: string): GatewayConfig | undefined;
  /** The pooled transport of a configured gateway. */
  get(name: string): Transporter;
  closeAll(): void;
}

/**
 * One pooled nodemailer transport per gateway, keyed by its name, created on first use and
 * reused by every attempt. The pool never re-sends on its own (maxRequeues 0): retries belong
 * to Temporal.
 */
export function createTransportRegistry(options: TransportOptions): TransportRegistry {
  // Lower priority first (stable: the list's order breaks ties).
  const gateways = [...options.gateways].sort((a, b) => a.priority - b.priority);
  const byName = new Map(gateways.map((g) => [g.name, g]));
  const transports = new Map<string, Transporter>();
  // Leave a margin so nodemailer gives up before Temporal's startToCloseTimeout fires.
  const socketTimeout = Math.max(1000, Math.floor(options.attemptTimeoutMs * 0.8));
  const stepTimeout = Math.min(socketTimeout, 30_000);
  return {
    gateways,
    gateway: (name) => byName.get(name),
    get(name) {
      let transport = transports.get(name);
      if (!transport) {
        const gateway = byName.get(name);
        if (!gateway) throw new Error(`no gateway named ${name} is configured`);
        // The options must sit in the one object with the URL: createTransport(url, options)
        // would take them as message defaults and build an unpooled transport with nodemailer's
        // own timeouts (10 min of socket inactivity).
        transport = nodemailer.createTransport({
          url: gateway.url,
          pool: true,
          maxConnections: gateway.maxConnections ?? options.maxConnections,
          maxMessages: 1000,
          maxRequeues: 0,
          connectionTimeout: stepTimeout,
          greetingTimeout: stepTimeout,
          socketTimeout,
          dnsTimeout: stepTimeout,
        } as NodemailerOptions);
        // Lets trackedMessageStream tell a cut before DATA from one after the final dot.
        transport.use('stream', trackDataPhase as never);
        transports.set(name, transport);
      }
      return transport;
    },
    closeAll() {
      for (const t of transports.values()) t.close();
      transports.clear();
    },
  };
}
