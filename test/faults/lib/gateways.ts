import path from 'node:path';
import { startSmtpSink, type SmtpSink } from '../../support/smtp-sink';
import { startScriptedSmtp, type ScriptedSmtp } from '../../support/smtp-test-server';

// The SMTP peers of the suite: Postfix's smtp-sink (a separate process, restarted with fault
// flags) and the scripted smtp-server of the integration tests. Both count the copies of each
// message they hold, by Message-ID: a copy is a message whose data arrived complete (it carries
// the END_MARKER line the load generator puts last in every body) and that the gateway keeps,
// which includes a message whose final dot arrived and whose reply never went out (RFC 1047:
// the gateway may deliver it).

export const END_MARKER = 'end-of-message';

export interface Gateway {
  url: string;
  /** Message-ID (without angle brackets) -> copies held. */
  copies(): Map<string, number>;
  close(): Promise<void>;
}

/** smtp-sink with these fault flags, its dumps and log in the scenario's folder. */
export function smtpSink(flags: string[] = []): (dir: string) => Promise<SmtpSink> {
  return (dir) => startSmtpSink({ dir, logFile: path.join(dir, 'smtp-sink.log'), flags, endMarker: END_MARKER, commandTimeoutS: 30 });
}

/** The scripted smtp-server with these hooks (onConnect, onMailFrom, onRcpt, onData). */
export function scriptedSmtp(hooks: Pick<ScriptedSmtp, 'onConnect' | 'onMailFrom' | 'onRcpt' | 'onData'>): () => Promise<ScriptedSmtp> {
  return async () => Object.assign(await startScriptedSmtp(), hooks);
}
