import { randomBytes, randomUUID } from 'node:crypto';
import dns from 'node:dns/promises';
import type { DeliveryRow, EndpointRow, WebhookStore } from '../db/webhooks';
import { DeliveryError } from '../deliveries/errors';
import type { Logger } from '../logger';
import { testPayload, WEBHOOK_TEST_EVENT, type WebhookEventType } from './events';
import { newWebhookSecret } from './signing';
import { checkWebhookUrl, isAllowedAddress, type WebhookTargetPolicy } from './url-rule';
import type { DispatchWebhooks } from './workflows';

// The webhook service: a tenant's endpoints (create, list, show, delete, rotate the secret,
// enable again, send a test event) and their deliveries (list, send again). The API routes call
// it; every operation is scoped by the tenant.

export interface WebhookServiceDeps {
  store: WebhookStore;
  dispatch: DispatchWebhooks;
  targets: WebhookTargetPolicy;
  maxEndpointsPerTenant: number;
  logger: Logger;
  /** Resolves a host name to its addresses (dns.lookup by default). */
  resolve?: (host: string) => Promise<string[]>;
}

/** How long the secret before a rotation keeps signing beside the new one. */
export const SECRET_OVERLAP_MS = 24 * 60 * 60 * 1000;

export interface NewEndpoint {
  url: string;
  events: string[];
  description?: string;
}

const notFound = () => new DeliveryError('not-found', 'Webhook endpoint not found');
const ENDPOINT_ID = /^wh_[0-9a-f]{24}$/;
const DELIVERY_ID = /^[1-9][0-9]{0,17}$/;

const defaultResolve = async (host: string) => (await dns.lookup(host, { all: true })).map((a) => a.address);

export function createWebhookService({
  store,
  dispatch,
  targets,
  maxEndpointsPerTenant,
  logger,
  resolve = defaultResolve,
}: WebhookServiceDeps) {
  async function endpointOf(tenantId: string, id: string): Promise<EndpointRow> {
    const endpoint = ENDPOINT_ID.test(id) ? await store.getEndpoint(tenantId, id) : undefined;
    if (!endpoint) throw notFound();
    return endpoint;
  }

  /** Wakes the dispatcher; when Temporal is out of reach, the pump's sweep does it later. */
  async function wake(endpoint: EndpointRow): Promise<void> {
    await dispatch({ endpointId: endpoint.id, tenantId: endpoint.tenantId }).catch((err) =>
      logger.warn({ err, endpointId: endpoint.id, tenantId: endpoint.tenantId }, 'webhook dispatcher not woken; the sweep will'),
    );
  }

  /** The URL rule, and the addresses its host resolves to now (checked again at each delivery). */
  async function checkTarget(raw: string): Promise<string> {
    const verdict = checkWebhookUrl(raw, targets);
    if (!verdict.ok) throw new DeliveryError('webhook-target-refused', `The webhook URL ${verdict.reason}`, { detail: raw });
    const host = verdict.url.hostname.replace(/^\[(.*)\]$/, '$1');
    // A host that does not resolve yet is let through: it is checked at every delivery.
    const addresses = await resolve(host).catch(() => [] as string[]);
    const refused = addresses.find((a) => !isAllowedAddress(a, targets));
    if (refused) {
      throw new DeliveryError(
        'webhook-target-refused',
        `The webhook URL's host resolves to ${refused}, a private, loopback or link-local address`,
        {
          detail: 'set WEBHOOK_ALLOW_PRIVATE_TARGETS=true (operator) to allow targets inside the network',
        },
      );
    }
    return verdict.url.toString();
  }

  return {
    async create(tenantId: string, input: NewEndpoint): Promise<{ endpoint: EndpointRow; secret: string }> {
      const url = await checkTarget(input.url);
      const secret = newWebhookSecret();
      const endpoint = await store.createEndpoint({
        id: `wh_${randomBytes(12).toString('hex')}`,
        tenantId,
        url,
        events: [...new Set(input.events)],
        description: input.description,
        secret,
        maxPerTenant: maxEndpointsPerTenant,
      });
      if (!endpoint) {
        throw new DeliveryError('webhook-limit-reached', `A tenant may have at most ${maxEndpointsPerTenant} webhook endpoints`, {
          detail: 'delete one first',
        });
      }
      return { endpoint, secret };
    },

    list(tenantId: string): Promise<EndpointRow[]> {
      return store.listEndpoints(tenantId);
    },

    get: endpointOf,

    async remove(tenantId: string, id: string): Promise<void> {
      if (!ENDPOINT_ID.test(id) || !(await store.deleteEndpoint(tenantId, id))) throw notFound();
    },

    /** A new secret; the old one signs beside it for SECRET_OVERLAP_MS, so receivers can switch. */
    async rotateSecret(tenantId: string, id: string): Promise<{ endpoint: EndpointRow; secret: string }> {
      await endpointOf(tenantId, id);
      const secret = newWebhookSecret();
      const endpoint = await store.rotateSecret(tenantId, id, secret, SECRET_OVERLAP_MS);
      if (!endpoint) throw notFound();
      return { endpoint, secret };
    },

    /** Enables a disabled endpoint; the deliveries it still had pending go out. */
    async enable(tenantId: string, id: string): Promise<EndpointRow> {
      await endpointOf(tenantId, id);
      const endpoint = await store.enableEndpoint(tenantId, id);
      if (!endpoint) throw notFound();
      await wake(endpoint);
      return endpoint;
    },

    /** A signed webhook.test event to this endpoint alone, through the same path as every event. */
    /**
     * An event that is not an email's (campaign.completed): one message, delivered to every
     * enabled endpoint of the tenant that subscribed to it. Returns how many it went to.
     */
    async publish(tenantId: string, type: WebhookEventType, data: Record<string, unknown>): Promise<number> {
      const endpoints = (await store.listEndpoints(tenantId)).filter((e) => e.disabledAt === null && e.events.includes(type));
      const at = new Date();
      for (const endpoint of endpoints) {
        const messageId = `msg_${randomUUID().replace(/-/g, '')}`;
        const body = JSON.stringify({ type, timestamp: at.toISOString(), data: { tenantId, ...data } });
        await store.addDirectDelivery(endpoint.id, {
          id: messageId,
          tenantId,
          emailId: null,
          eventId: null,
          type,
          recipient: null,
          body,
          occurredAt: at,
        });
        await wake(endpoint);
      }
      return endpoints.length;
    },

    async sendTest(tenantId: string, id: string): Promise<{ deliveryId: string; messageId: string }> {
      const endpoint = await endpointOf(tenantId, id);
      const at = new Date();
      const messageId = `msg_${randomUUID().replace(/-/g, '')}`;
      const deliveryId = await store.addDirectDelivery(endpoint.id, {
        id: messageId,
        tenantId,
        emailId: null,
        eventId: null,
        type: WEBHOOK_TEST_EVENT,
        recipient: null,
        body: JSON.stringify(testPayload(endpoint.id, tenantId, at)),
        occurredAt: at,
      });
      await wake(endpoint);
      return { deliveryId, messageId };
    },

    async deliveries(
      tenantId: string,
      id: string,
      options: { status?: DeliveryRow['status']; limit: number; before?: string },
    ): Promise<DeliveryRow[]> {
      const endpoint = await endpointOf(tenantId, id);
      return store.listDeliveries(endpoint.id, options);
    },

    /** Sends a delivery again: same message, same webhook-id (receivers de-duplicate on it). */
    async resend(tenantId: string, id: string, deliveryId: string): Promise<void> {
      const endpoint = await endpointOf(tenantId, id);
      if (!DELIVERY_ID.test(deliveryId) || !(await store.resend(endpoint.id, deliveryId))) {
        throw new DeliveryError('not-found', 'Delivery not found');
      }
      await wake(endpoint);
    },
  };
}

export type WebhookService = ReturnType<typeof createWebhookService>;
