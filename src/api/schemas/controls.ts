import { z } from '@hono/zod-openapi';

// Bodies of the controls of one email; each may be empty.

export const ReasonSchema = z.object({ reason: z.string().max(500).optional() }).strict();
export const RescheduleSchema = z.object({ sendAt: z.iso.datetime({ offset: true }), reason: z.string().max(500).optional() }).strict();
