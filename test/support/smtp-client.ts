import net from 'node:net';
import tls from 'node:tls';

// A bare SMTP client for tests that need every reply line as the server wrote it (nodemailer
// hides the ones it handles itself), and to misbehave on purpose: stall, trickle, hang up.

export interface SmtpReply {
  code: number;
  /** The text of every line, code and separator removed. */
  lines: string[];
  /** The last line as sent, e.g. "550 5.7.1 This tenant may not send from x.example". */
  last: string;
}

export class SmtpTestClient {
  private buffer = '';
  private readonly waiting: Array<(reply: SmtpReply) => void> = [];
  private readonly replies: SmtpReply[] = [];
  /** Resolves when the server has closed the connection (or it was destroyed). */
  readonly closed: Promise<void>;
  private markClosed!: () => void;
  isClosed = false;

  private constructor(private socket: net.Socket | tls.TLSSocket) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.listen(socket);
    socket.on('close', () => {
      this.isClosed = true;
      this.markClosed();
    });
  }

  /** Connects and reads the greeting. */
  static async connect(
    port: number,
    options: { implicitTls?: boolean; ca?: Buffer } = {},
  ): Promise<{ client: SmtpTestClient; greeting: SmtpReply }> {
    const socket = options.implicitTls
      ? tls.connect({ port, host: '127.0.0.1', ca: options.ca, servername: 'localhost' })
      : net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once(options.implicitTls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    socket.on('error', () => {});
    const client = new SmtpTestClient(socket);
    return { client, greeting: await client.read() };
  }

  private listen(socket: net.Socket | tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('utf8');
      let end: number;
      const lines: string[] = [];
      while ((end = this.buffer.indexOf('\r\n')) !== -1) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        lines.push(line);
        if (line[3] !== '-') {
          const reply = { code: Number(line.slice(0, 3)), lines: lines.splice(0).map((l) => l.slice(4)), last: line };
          const next = this.waiting.shift();
          if (next) next(reply);
          else this.replies.push(reply);
        }
      }
      if (lines.length) this.buffer = lines.map((l) => `${l}\r\n`).join('') + this.buffer;
    });
  }

  /** The next reply; rejects when the connection closes first. */
  read(timeoutMs = 20_000): Promise<SmtpReply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply in time')), timeoutMs);
      const done = (reply: SmtpReply) => {
        clearTimeout(timer);
        resolve(reply);
      };
      this.waiting.push(done);
      void this.closed.then(() => {
        const i = this.waiting.indexOf(done);
        if (i === -1) return;
        this.waiting.splice(i, 1);
        clearTimeout(timer);
        reject(new Error('connection closed'));
      });
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  command(line: string): Promise<SmtpReply> {
    this.write(`${line}\r\n`);
    return this.read();
  }

  /** STARTTLS, then the TLS handshake (trusting `ca`). */
  async starttls(ca: Buffer): Promise<SmtpReply> {
    const reply = await this.command('STARTTLS');
    if (reply.code !== 220) return reply;
    this.socket.removeAllListeners('data');
    const secure = tls.connect({ socket: this.socket, ca, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    secure.on('error', () => {});
    secure.on('close', () => {
      this.isClosed = true;
      this.markClosed();
    });
    this.socket = secure;
    this.listen(secure);
    return reply;
  }

  /** AUTH PLAIN with this password (the user name is not read by Herald). */
  authPlain(password: string, user = 'any-user'): Promise<SmtpReply> {
    return this.command(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`);
  }

  /** DATA, the message (dot-stuffed here), the final dot: the reply to the dot. */
  async data(message: string | Buffer): Promise<SmtpReply> {
    const start = await this.command('DATA');
    if (start.code !== 354) return start;
    const text = Buffer.isBuffer(message) ? message.toString('latin1') : message;
    const stuffed = text.replace(/(^|\r\n)\./g, '$1..');
    this.write(Buffer.from(`${stuffed}${stuffed.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1'));
    return this.read();
  }

  destroy(): void {
    this.socket.destroy();
  }

  async quit(): Promise<void> {
    if (!this.isClosed) this.write('QUIT\r\n');
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, 2000))]);
    this.destroy();
  }
}
