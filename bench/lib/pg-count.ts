/**
 * Counts the SQL statements idport sends to PostgreSQL, without touching idport or the server's configuration
 * (pg_stat_statements would need shared_preload_libraries and a restart of a server other people use). A TCP relay
 * between idport and PostgreSQL reads only the framing of what the client sends (PostgreSQL protocol 3: after the
 * untyped startup message, each message is a type byte and a 32-bit length) and counts simple Query ('Q') and
 * Execute ('E') messages: one per statement run, whether it went through the simple or the extended protocol.
 * Bytes are forwarded unchanged in both directions. The connection must not use TLS (`sslmode=disable`).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface StatementCounter {
  readonly port: number;
  /** Statements seen so far, across every connection. */
  statements(): number;
  close(): Promise<void>;
}

/** Follows the client→server stream's message boundaries and counts Q and E messages. */
class FrameCounter {
  private pending: Buffer = Buffer.alloc(0);
  private startupSeen = false;
  count = 0;

  feed(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      const header = this.startupSeen ? 5 : 4;
      if (this.pending.length < header) return;
      // The startup message (and an SSLRequest, answered 'N' here since TLS is off) has no type byte.
      const length = this.startupSeen ? this.pending.readInt32BE(1) + 1 : this.pending.readInt32BE(0);
      if (this.pending.length < length) return;
      if (this.startupSeen) {
        const type = String.fromCharCode(this.pending[0] ?? 0);
        if (type === 'Q' || type === 'E') this.count++;
      } else if (this.pending.readInt32BE(4) !== 80877103) this.startupSeen = true;
      this.pending = this.pending.subarray(length);
    }
  }
}

const relay = (client: Socket, target: { host: string; port: number }, counters: FrameCounter[]): void => {
  const upstream = connect(target.port, target.host);
  const counter = new FrameCounter();
  counters.push(counter);
  client.on('data', (chunk: Buffer) => {
    counter.feed(chunk);
    upstream.write(chunk);
  });
  upstream.on('data', (chunk: Buffer) => client.write(chunk));
  const end = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('close', end).on('error', end);
  upstream.on('close', end).on('error', end);
};

/** Listens on a free loopback port and relays every connection to `target`. */
export const startStatementCounter = async (target: { host: string; port: number }): Promise<StatementCounter> => {
  const counters: FrameCounter[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    relay(client, target, counters);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    statements: () => counters.reduce((sum, c) => sum + c.count, 0),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
};
