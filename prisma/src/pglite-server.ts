import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** 0 picks a free port. */
  port: number;
  host?: string;
}

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/** A persistent PGlite database served over the Postgres wire protocol. */
export async function startEmbeddedPostgres({
  dataDir,
  port,
  host = '127.0.0.1',
}: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const db = await PGlite.create({ dataDir, extensions: { pg_trgm } });
  const server = new PGLiteSocketServer({ db, port, host, maxConnections: 32 });
  // Every connection's handler gets the server's (private) queue, so it must be replaced before the first connection.
  Reflect.set(server, 'queryQueue', new SessionQueue(db));
  await server.start();
  return {
    // getServerConn() has the bound port, for port 0.
    url: `postgresql://postgres@${server.getServerConn()}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}

interface QueuedMessage {
  connection: number;
  message: Uint8Array;
  onData: (data: Uint8Array) => void;
  resolve: (bytes: number) => void;
  reject: (error: unknown) => void;
}

const TERMINATE = 0x58; // 'X'

/**
 * Replaces pglite-socket's query queue. PGlite is one Postgres session, and pglite-socket runs each protocol message of
 * each connection as it arrives; it keeps other connections out only while PGlite is inside an explicit transaction
 * block. That still lets a connection's messages run in the middle of another's extended-protocol exchange
 * (Parse … Sync, e.g. an implicit transaction). Here the connection that last ran a message owns the session until
 * Postgres reports it idle again (ReadyForQuery 'I'); the others' messages wait.
 */
class SessionQueue {
  #queue: QueuedMessage[] = [];
  #owner: number | null = null;
  #draining = false;

  constructor(private readonly db: PGlite) {}

  enqueue(connection: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ connection, message, onData, resolve, reject });
      void this.#drain();
    });
  }

  getQueueLength(): number {
    return this.#queue.length;
  }

  clearQueueForHandler(connection: number): void {
    for (const queued of this.#queue.filter((queued) => queued.connection === connection)) {
      queued.reject(new Error('Connection closed'));
    }
    this.#queue = this.#queue.filter((queued) => queued.connection !== connection);
  }

  /** Called when a connection goes away: end whatever it left open and hand the session on. */
  async clearTransactionIfNeeded(connection: number): Promise<void> {
    if (this.#owner !== connection) return;
    if (this.db.isInTransaction()) await this.db.exec('ROLLBACK');
    this.#owner = null;
    void this.#drain();
  }

  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (;;) {
        const index = this.#owner === null ? 0 : this.#queue.findIndex((queued) => queued.connection === this.#owner);
        const [next] = index === -1 ? [] : this.#queue.splice(index, 1);
        if (!next) return;
        await this.#run(next);
      }
    } finally {
      this.#draining = false;
    }
  }

  async #run({ connection, message, onData, resolve, reject }: QueuedMessage): Promise<void> {
    const readyForQuery = new ReadyForQueryTracker();
    let bytes = 0;
    try {
      await this.db.runExclusive(() =>
        this.db.execProtocolRawStream(message, {
          onRawData: (data) => {
            bytes += data.length;
            readyForQuery.push(data);
            onData(data);
          },
        }),
      );
    } catch (error) {
      reject(error);
      return;
    } finally {
      const idle = readyForQuery.status === 'I' || message[0] === TERMINATE;
      this.#owner = idle ? null : connection;
    }
    resolve(bytes);
  }
}

/** Follows the backend's message framing across chunks and remembers the status of the last ReadyForQuery. */
class ReadyForQueryTracker {
  status: string | null = null;
  #header: number[] = [];
  #remaining = 0;
  #type = 0;

  push(data: Uint8Array): void {
    let offset = 0;
    while (offset < data.length) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, data.length - offset);
        offset += take;
        this.#remaining -= take;
        if (this.#remaining === 0 && this.#type === 0x5a) this.status = String.fromCharCode(data[offset - 1]!);
        continue;
      }
      this.#header.push(data[offset++]!);
      if (this.#header.length === 5) {
        const [type, b1, b2, b3, b4] = this.#header as [number, number, number, number, number];
        this.#type = type;
        this.#remaining = ((b1 << 24) | (b2 << 16) | (b3 << 8) | b4) - 4;
        this.#header = [];
      }
    }
  }
}
