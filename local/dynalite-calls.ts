// Single-item DynamoDB calls straight to dynalite, in its wire JSON (attribute values stay as the caller
// sent them: no SDK marshalling round trip). The DynamoDB front (local/dynamo-front.ts) builds its
// TransactWriteItems from these. dynalite checks that an Authorization header is there, never a signature. A
// bare attribute_(not_)exists condition it has parsed once goes as legacy `Expected` (local/legacy-conditions.ts).
import { Agent, request, type Server } from 'node:http';
import { askInProcess } from './dynalite-in-process.js';
import { LegacyConditions } from './legacy-conditions.js';

export type AttributeMap = Record<string, unknown>;

export interface DynaliteAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** The answer as dynalite sent it, to pass on unchanged. */
  readonly raw: string;
}

const FAKE_AUTHORIZATION =
  'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0';

const headersOf = (operation: string) => ({
  'content-type': 'application/x-amz-json-1.0',
  'x-amz-target': `DynamoDB_20120810.${operation}`,
  'x-amz-date': '20260101T000000Z',
  authorization: FAKE_AUTHORIZATION,
});

export class DynaliteCalls {
  readonly #url: URL;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 32 });
  readonly #keySchemas = new Map<string, Promise<readonly string[]>>();
  readonly #conditions = new LegacyConditions();

  readonly #server: Server | undefined;

  /** `server`: dynalite's own, when it runs in this thread: asked in process (local/dynalite-in-process.ts). */
  constructor(endpoint: string, server?: Server) {
    this.#url = new URL(endpoint);
    this.#server = server;
  }

  /** One call; a simple condition dynalite has parsed before goes as `Expected` (local/legacy-conditions.ts). */
  async call(operation: string, body: object): Promise<DynaliteAnswer> {
    const params = body as Record<string, unknown>;
    const sent = this.#conditions.translate(params);
    const answer = await this.#retried(operation, JSON.stringify(sent));
    if (sent === params) this.#conditions.learn(params, answer);
    return answer;
  }

  async #retried(operation: string, payload: string): Promise<DynaliteAnswer> {
    try {
      return await this.#send(operation, payload);
    } catch (err) {
      // A kept-alive socket the server closed as the request went out: the request never reached dynalite
      // (Node's docs call this retry safe), so it is sent once more rather than failing a transaction.
      if (
        (err as { reusedSocket?: boolean }).reusedSocket &&
        (err as NodeJS.ErrnoException).code === 'ECONNRESET'
      ) {
        return this.#send(operation, payload);
      }
      throw err;
    }
  }

  #send(operation: string, payload: string): Promise<DynaliteAnswer> {
    if (this.#server) return this.#ask(this.#server, operation, payload);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.#url.hostname,
          port: this.#url.port,
          method: 'POST',
          path: '/',
          agent: this.#agent,
          headers: { ...headersOf(operation), 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 500, body: raw ? JSON.parse(raw) : {}, raw });
          });
        },
      );
      req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
      req.end(payload);
    });
  }

  async #ask(server: Server, operation: string, payload: string): Promise<DynaliteAnswer> {
    const body = Buffer.from(payload);
    const headers = { ...headersOf(operation), 'content-length': String(body.length) };
    const answer = await askInProcess(server, { method: 'POST', url: '/', headers }, body);
    const raw = answer.body.toString('utf8');
    return { status: answer.status, body: raw ? JSON.parse(raw) : {}, raw };
  }

  /** Like `call`, but a refusal throws DynaliteRefusal (for the reads and restores that must not fail). */
  async ok(operation: string, body: object): Promise<Record<string, unknown>> {
    const answer = await this.call(operation, body);
    if (answer.status !== 200) throw new DynaliteRefusal(operation, answer);
    return answer.body;
  }

  /** The table's key attribute names (hash, then range), from DescribeTable, remembered per table. */
  keySchema(tableName: string): Promise<readonly string[]> {
    let schema = this.#keySchemas.get(tableName);
    if (!schema) {
      schema = this.ok('DescribeTable', { TableName: tableName }).then((out) => {
        const table = out.Table as { KeySchema: { AttributeName: string; KeyType: string }[] };
        return [...table.KeySchema]
          .sort((a, b) => (a.KeyType === 'HASH' ? -1 : b.KeyType === 'HASH' ? 1 : 0))
          .map((k) => k.AttributeName);
      });
      schema.catch(() => this.#keySchemas.delete(tableName));
      this.#keySchemas.set(tableName, schema);
    }
    return schema;
  }

  /**
   * Waits until DescribeTable says the table is ACTIVE (at most `attempts` reads, 2 ms apart). dynalite answers
   * CreateTable with the table CREATING and flips it to ACTIVE on a timer even at `createTableMs: 0`, so a write
   * sent at once can be refused `ResourceNotFoundException` (DynamoDB's answer for a table not yet ACTIVE).
   */
  async untilActive(tableName: string, attempts = 500): Promise<void> {
    for (let i = 0; i < attempts; i++) {
      const answer = await this.call('DescribeTable', { TableName: tableName });
      const status = (answer.body.Table as { TableStatus?: string } | undefined)?.TableStatus;
      if (answer.status !== 200 || status === 'ACTIVE') return;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  /** A table was deleted or created through the front: its key schema may change. */
  forget(tableName: string): void {
    this.#keySchemas.delete(tableName);
  }

  destroy(): void {
    this.#agent.destroy();
  }
}

/** dynalite refused a call the front needed (a missing table, a bad key): its answer goes back as it is. */
export class DynaliteRefusal extends Error {
  readonly answer: DynaliteAnswer;
  constructor(operation: string, answer: DynaliteAnswer) {
    super(`dynalite ${operation} answered ${answer.status}: ${answer.raw}`);
    this.name = 'DynaliteRefusal';
    this.answer = answer;
  }
}

export function isConditionalCheckFailed(answer: DynaliteAnswer): boolean {
  return (
    answer.status === 400 && String(answer.body.__type ?? '').endsWith('#ConditionalCheckFailedException')
  );
}
