import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { randomUUID } from 'node:crypto';
import type { ApiDeps, ApiEnv } from '../app';
import { isEmailId } from '../email-id';
import { Problem, notFound, validationProblem } from '../problem';
import { CreateEmailSchema, messageSize } from '../email-schema';
import { createEmailStore, requestHash } from '../../db/email-store';
import { workflowIdFor, type DeliverEmailInput } from '../../shared';
import { toEmailView, toEventView, toListItemView } from '../views';
import { deliverySummary } from '../delivery-input';
import { ListQuerySchema, decodeCursor, encodeCursor } from '../list-query';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export function emailRoutes(deps: ApiDeps) {
  const emails = createEmailStore(deps.sql);
  // base64 makes attachments a third larger; JSON and headers need a little more.
  const maxBodyBytes = Math.ceil(deps.maxMessageBytes * 1.4) + 64 * 1024;

  return new Hono<ApiEnv>()
    .post(
      '/',
      bodyLimit({
        maxSize: maxBodyBytes,
        onError: () => {
          throw new Problem(413, 'payload-too-large', `The request body exceeds ${maxBodyBytes} bytes`);
        },
      }),
      async (c) => {
        const contentType = c.req.header('content-type') ?? '';
        if (!/^application\/json\s*(;|$)/i.test(contentType)) {
          throw new Problem(415, 'unsupported-media-type', 'Content-Type must be application/json', {
            detail: `got ${contentType || 'no content type'}`,
          });
        }
        const idempotencyKey = c.req.header('idempotency-key');
        if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
          throw validationProblem([{ field: 'Idempotency-Key', message: 'must be 1-255 visible ASCII characters' }]);
        }
        let body: unknown;
        try {
          body = await c.req.json();
        } catch {
          throw new Problem(400, 'malformed-json', 'The request body is not valid JSON');
        }
        const parsed = CreateEmailSchema.safeParse(body);
        if (!parsed.success) {
          throw validationProblem(
            parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message })),
          );
        }
        const req = parsed.data;
        if (messageSize(req) > deps.maxMessageBytes) {
          throw validationProblem([
            { field: 'attachments', message: `text, html and attachments together exceed ${deps.maxMessageBytes} bytes` },
          ]);
        }
        if (req.sendAt && Number.isNaN(Date.parse(req.sendAt))) {
          throw validationProblem([{ field: 'sendAt', message: 'must be a valid date-time' }]);
        }

        const tenantId = c.get('tenantId');
        const id = randomUUID();
        const tags = Array.isArray(req.metadata.tags) ? req.metadata.tags : [];
        const hash = requestHash(body);
        const stored = await emails.insert({
          id,
          tenantId,
          workflowId: workflowIdFor(id),
          messageId: `<${id}@${deps.messageIdDomain}>`,
          from: req.from,
          subject: req.subject,
          content: { to: req.to, cc: req.cc, bcc: req.bcc, replyTo: req.replyTo, text: req.text, html: req.html, headers: req.headers },
          attachments: req.attachments.map((a) => ({
            filename: a.filename,
            contentType: a.contentType,
            content: Buffer.from(a.content, 'base64'),
          })),
          metadata: req.metadata,
          tags,
          sendAt: req.sendAt ? new Date(req.sendAt).toISOString() : undefined,
          idempotencyKey,
          requestHash: hash,
        });
        if (!stored.created && stored.requestHash !== hash) {
          throw new Problem(422, 'idempotency-key-reused', 'This Idempotency-Key was used with a different request body', {
            detail: `email ${stored.id} was created with this key`,
          });
        }

        const input: DeliverEmailInput = {
          emailId: stored.id,
          tenantId,
          sendAt: stored.sendAt ?? undefined,
          policy: deps.policy,
          recipientDomains: [...new Set([...req.to, ...req.cc, ...req.bcc].map((a) => a.address.split('@').pop()!))],
          tags,
        };
        try {
          // Repeated for a replayed key while the email is still waiting: it starts the workflow
          // if an earlier try stopped short, and is a no-op otherwise.
          if (stored.created || stored.status === 'queued' || stored.status === 'scheduled') {
            await deps.deliveries.start(stored.workflowId, input, deliverySummary(req.to.concat(req.cc, req.bcc), req.subject));
          }
        } catch (err) {
          deps.logger.error({ err, emailId: stored.id }, 'could not start the delivery workflow');
          if (stored.created && !idempotencyKey) await emails.remove(stored.id);
          throw new Problem(503, 'temporal-unavailable', 'The email could not be queued; try again', {
            detail: idempotencyKey ? 'retry with the same Idempotency-Key' : 'nothing was stored',
          });
        }
        c.header('Location', `/v1/emails/${stored.id}`);
        if (!stored.created) c.header('Idempotent-Replayed', 'true');
        return c.json({ id: stored.id, status: stored.status, workflowId: stored.workflowId }, 202);
      },
    )
    .get('/', async (c) => {
      const parsed = ListQuerySchema.safeParse(c.req.query());
      if (!parsed.success) {
        throw validationProblem(parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(query)', message: i.message })));
      }
      const { limit, cursor, ...filter } = parsed.data;
      const rows = await emails.list(c.get('tenantId'), filter, limit + 1, cursor ? decodeCursor(cursor) : undefined);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return c.json({
        data: page.map(toListItemView),
        nextCursor: rows.length > limit && last ? encodeCursor(last.created_at, last.id) : null,
      });
    })
    .get('/:id/events', async (c) => {
      const id = c.req.param('id');
      if (!isEmailId(id) || !(await emails.findRef(c.get('tenantId'), id))) throw notFound('Email');
      return c.json({ data: (await emails.events(id)).map(toEventView) });
    })
    .get('/:id', async (c) => {
      const id = c.req.param('id');
      if (!isEmailId(id)) throw notFound('Email');
      const found = await emails.findById(c.get('tenantId'), id);
      if (!found) throw notFound('Email');
      return c.json(toEmailView(found));
    });
}
