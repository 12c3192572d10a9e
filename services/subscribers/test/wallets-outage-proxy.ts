import http from 'node:http';

/** What the proxy does to the next requests (tests set these between steps; `reset` puts them back). */
export interface Outage {
  /** Every request is dropped (connection reset) while true. */
  down: boolean;
  /** Once an applyCharge went through, wallets is down (from the next request on). */
  downAfterCharge: boolean;
  /** Once a grantBucket went through, wallets is down (from the next request on). */
  downAfterGrant: boolean;
  /** Forward the next applyCharge, then drop its answer (once). */
  loseChargeAnswer: boolean;
  /** After a lost answer: down from then on (else wallets answers again at once). */
  stayDown: boolean;
  /** Requests dropped while down. */
  dropped: number;
  /** applyCharge requests that reached the proxy (dropped or not). */
  charges: number;
  /** grantBucket requests that reached the proxy (dropped or not). */
  grants: number;
}

/**
 * A proxy in front of the wallets service's GraphQL endpoint that drops connections when told to:
 * a wallets outage (or a lost answer) at a chosen step of a subscribers flow, with the real wallets
 * service and the real GraphQL client on either side.
 */
export async function startWalletsOutageProxy(walletsUrl: string): Promise<{ url: string; outage: Outage; reset(): void; close(): Promise<void> }> {
  const outage: Outage = { down: false, downAfterCharge: false, downAfterGrant: false, loseChargeAnswer: false, stayDown: false, dropped: 0, charges: 0, grants: 0 };
  const target = new URL(walletsUrl);
  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const isCharge = body.includes('applyCharge');
      const isGrant = body.includes('grantBucket');
      if (isCharge) outage.charges += 1;
      if (isGrant) outage.grants += 1;
      if (outage.down) {
        outage.dropped += 1;
        req.socket.destroy();
        return;
      }
      const forward = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: req.method, headers: req.headers }, (answer) => {
        const out: Buffer[] = [];
        answer.on('data', (c: Buffer) => out.push(c));
        answer.on('end', () => {
          if (isCharge && outage.loseChargeAnswer) {
            outage.loseChargeAnswer = false;
            outage.down = outage.stayDown;
            req.socket.destroy();
            return;
          }
          if (isCharge && outage.downAfterCharge) outage.down = true;
          if (isGrant && outage.downAfterGrant) outage.down = true;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(Buffer.concat(out));
        });
      });
      forward.on('error', () => req.socket.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(proxy.address() as { port: number }).port}/graphql`,
    outage,
    reset: () => Object.assign(outage, { down: false, downAfterCharge: false, downAfterGrant: false, loseChargeAnswer: false, stayDown: false, dropped: 0, charges: 0, grants: 0 }),
    close: () => new Promise<void>((r) => proxy.close(() => r())),
  };
}
