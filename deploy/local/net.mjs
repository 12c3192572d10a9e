// Small network helpers shared by the local start-up and test scripts (plain Node ESM: they run
// before dependencies are installed).
import { connect, createServer } from 'node:net';

/** True when something accepts TCP connections at host:port. */
export function isListening(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A TCP port that was free a moment ago (the OS picks it). */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * A TCP port that was free a moment ago, chosen below the ephemeral range (Linux 32768+, others
 * 49152+). A `listen(0)` elsewhere (another test's server started meanwhile) is given ephemeral
 * ports only, so it cannot take this one between our check and our server's start; with `freePort`
 * it could, and our health check would then reach the other server (seen in CI: an e2e system whose
 * gateway port an integration test's usage subgraph had taken).
 */
export async function freeStablePort(host = '127.0.0.1') {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await canListen(host, port)) return port;
  }
  return freePort(host);
}

function canListen(host, port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export async function waitFor(check, { timeoutMs = 60_000, intervalMs = 250, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function hostPort(url) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) || (u.protocol.startsWith('nats') ? 4222 : 80) };
}
