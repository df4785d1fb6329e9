import net from 'node:net';

export interface NamedPort {
  /** The variable that sets it, e.g. PORT. */
  readonly variable: string;
  readonly port: number;
}

/**
 * Whether something already listens on `port`, tried the way the API and the worker listen
 * (every address, no host): a listen that fails with EADDRINUSE. Any other failure is thrown.
 */
function inUse(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(true) : reject(err)));
    probe.listen({ port, exclusive: true }, () => probe.close(() => resolve(false)));
  });
}

/** The ports among `ports` (0 meaning "off" is skipped) that another process already listens on. */
export async function portsInUse(ports: readonly NamedPort[]): Promise<NamedPort[]> {
  const taken: NamedPort[] = [];
  for (const p of ports) if (p.port > 0 && (await inUse(p.port))) taken.push(p);
  return taken;
}

/** What `npm start` says before stopping: which port, and the two ways out. */
export function portsInUseMessage(taken: readonly NamedPort[]): string {
  const list = taken.map((p) => `${p.port} (${p.variable})`).join(' and ');
  const free = taken.map((p) => `${p.variable}=${p.port + 1}`).join(' ');
  return [
    `${taken.length > 1 ? 'Ports' : 'Port'} ${list} ${taken.length > 1 ? 'are' : 'is'} already in use, probably by another \`npm start\`; nothing was started.`,
    `  Stop the other one (Ctrl-C in its terminal; \`ss -ltnp 'sport = :${taken[0].port}'\` shows which process it is),`,
    `  or pick other ports: ${free} npm start`,
  ].join('\n');
}
