/**
 * A real HTTP receiver on 127.0.0.1 (an ephemeral port) standing in for a vendor's webhook
 * endpoint. It records every request with its raw body (signatures are over the exact bytes)
 * and answers through a replaceable responder (default: 200).
 *
 *   const rx = await startReceiver();
 *   rx.respond(() => ({ status: 503, headers: { 'retry-after': '1' } }));  // receiver "down"
 *   const [req] = await rx.waitFor(1);       // bounded: rejects after timeoutMs
 *   await rx.close();                        // in after(); safe twice
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  /** Lower-case header names, as node gives them. */
  readonly headers: http.IncomingHttpHeaders;
  /** The body exactly as received. */
  readonly body: string;
  readonly receivedAt: number;
}

export interface Reply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/** Decides the answer to one request; may wait (to provoke a client timeout). */
export type Responder = (req: ReceivedRequest) => Reply | Promise<Reply>;

export interface Receiver {
  /** e.g. `http://127.0.0.1:40123/hook` */
  readonly url: string;
  /** Every request so far, oldest first. */
  readonly requests: readonly ReceivedRequest[];
  respond(responder: Responder): void;
  /** Resolves with the requests once at least `count` have arrived; rejects after `timeoutMs` (default 10 s). */
  waitFor(count: number, timeoutMs?: number): Promise<readonly ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function startReceiver(path = '/hook'): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  let responder: Responder = () => ({ status: 200 });
  const waiters = new Set<() => void>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      };
      requests.push(received);
      for (const wake of waiters) wake();
      Promise.resolve()
        .then(() => responder(received))
        .then(
          (reply) => res.writeHead(reply.status, reply.headers).end(reply.body ?? ''),
          () => res.writeHead(500).end(),
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    requests,
    respond: (r) => {
      responder = r;
    },
    waitFor: (count, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        if (requests.length >= count) return resolve(requests);
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver: ${requests.length} of ${count} requests after ${timeoutMs} ms`));
        }, timeoutMs);
        function check() {
          if (requests.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(requests);
        }
        waiters.add(check);
      }),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}
