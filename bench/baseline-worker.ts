import { NativeConnection, Worker } from '@temporalio/worker';
import { parseConfig } from '../src/config';
import type { B1Activities } from './b1-workflows';

// B1's worker, a process of its own like Herald's, with the same settings (read from the same
// environment by parseConfig). Each activity reports when it ran to the benchmark over IPC,
// batched so that reporting costs little.

async function main() {
  const config = parseConfig();
  const taskQueue = process.env.B1_TASK_QUEUE!;
  let batch: Array<[string, number]> = [];
  const flush = () => {
    if (batch.length > 0 && process.send) process.send({ ran: batch });
    batch = [];
  };
  setInterval(flush, 100).unref();
  const activities: B1Activities = {
    async touch(id) {
      batch.push([id, Date.now()]);
    },
  };
  const connection = await NativeConnection.connect({ address: config.temporal.address! });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue,
    workflowsPath: require.resolve('./b1-workflows'),
    activities,
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
  });
  const stop = () => worker.shutdown();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  console.log('b1 worker running');
  await worker.run();
  flush();
  await connection.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
