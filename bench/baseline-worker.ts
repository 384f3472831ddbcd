import { NativeConnection, Worker, type InjectedSinks } from '@temporalio/worker';
import { parseConfig } from '../src/config';
import type { BaselineActivities, BaselineSinks } from './baseline-workflows';

// The baselines' worker (B1 and B2), a process of its own like Herald's, with the same settings
// (read from the same environment by parseConfig). Each workflow reports when it ran (B1 from its
// activity, B2 from a sink) to the benchmark over IPC, batched so that reporting costs little.

async function main() {
  const config = parseConfig();
  const taskQueue = process.env.BASELINE_TASK_QUEUE!;
  let batch: Array<[string, number]> = [];
  const flush = () => {
    if (batch.length > 0 && process.send) process.send({ ran: batch });
    batch = [];
  };
  setInterval(flush, 100).unref();
  const ran = (id: string) => void batch.push([id, Date.now()]);
  const activities: BaselineActivities = {
    async touch(id) {
      ran(id);
    },
  };
  const sinks: InjectedSinks<BaselineSinks> = { bench: { ran: { fn: (_info, id) => ran(id), callDuringReplay: false } } };
  const connection = await NativeConnection.connect({ address: config.temporal.address! });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue,
    workflowsPath: require.resolve('./baseline-workflows'),
    activities,
    sinks,
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
  });
  const stop = () => worker.shutdown();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  console.log('baseline worker running');
  await worker.run();
  flush();
  await connection.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
