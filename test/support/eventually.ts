/**
 * Polls `check` until it returns a value other than undefined; fails naming `what` after
 * `timeoutMs`. Generous by default: any write transaction open anywhere in the cluster (another
 * suite's 50,000-member replace) holds the outbox's snapshot fence back until it ends.
 */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
