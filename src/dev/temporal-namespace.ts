import { isGrpcServiceError, type Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { SEARCH_ATTRIBUTE_CLI_TYPES } from '../shared';

// What a fresh Temporal cluster needs before Herald can run on it: its namespace and Herald's
// search attributes. Both steps are idempotent (the dev server does the same with flags).

const ALREADY_EXISTS = 6; // gRPC status code
// temporal.api.enums.v1.IndexedValueType (@temporalio/proto is not a direct dependency).
const INDEXED_VALUE_TYPE = { Keyword: 2, KeywordList: 7 } as const;

export async function ensureNamespace(connection: Connection, namespace: string, retentionDays = 3): Promise<void> {
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs(`${retentionDays} days`),
    });
  } catch (err) {
    if (!(isGrpcServiceError(err) && err.code === ALREADY_EXISTS)) throw err;
  }
}

/**
 * Registers the missing ones, then waits until the frontend accepts a query on them: the
 * frontend reads search attributes from a namespace cache that lags a fresh registration, and a
 * workflow started in that window with one of them would be refused.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  attributes: Record<string, 'Keyword' | 'KeywordList'> = SEARCH_ATTRIBUTE_CLI_TYPES,
  timeoutMs = 30_000,
): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.entries(attributes).filter(([name]) => !(name in (customAttributes ?? {})));
  if (missing.length) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, INDEXED_VALUE_TYPE[type]])),
    });
  }
  const query = Object.keys(attributes)
    .map((name) => `${name} = "herald-probe"`)
    .join(' AND ');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await connection.workflowService.countWorkflowExecutions({ namespace, query });
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`search attributes not usable in namespace ${namespace} after ${timeoutMs} ms: ${(err as Error).message}`, {
          cause: err,
        });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
