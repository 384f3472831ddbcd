import { z } from '@hono/zod-openapi';
import { controlReason, sendAt } from './fields';

// Bodies of the controls of one email; each may be empty.

export const ReasonSchema = z.object({ reason: controlReason.optional() }).strict();
export const RescheduleSchema = z.object({ sendAt, reason: controlReason.optional() }).strict();
