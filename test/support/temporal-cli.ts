import { execFile } from 'node:child_process';

/** Runs the real `temporal` binary against the test server, as a person would. */
export function temporalCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const cli = process.env.HERALD_TEST_TEMPORAL_CLI!;
  const address = process.env.HERALD_TEST_TEMPORAL_ADDRESS!;
  return new Promise((resolve) => {
    execFile(cli, [...args, '--address', address], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

export async function temporalCliOk(args: string[]): Promise<string> {
  const { code, stdout, stderr } = await temporalCli(args);
  if (code !== 0) throw new Error(`temporal ${args.join(' ')} exited ${code}: ${stderr || stdout}`);
  return stdout;
}
