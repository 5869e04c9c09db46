// Node.js peer of wsgate for the benchmark: GET /ws/v1/status/{client_id}?token=JWT upgrades to
// a WebSocket that receives every message published on Redis channel ws:{user_id}.
//
// One process, one event loop. One shared ioredis subscriber connection: a user's first socket
// SUBSCRIBEs, the last one leaving UNSUBSCRIBEs (ioredis resubscribes by itself after a
// reconnect). The HS256 key object is built once; the algorithm list comes from here, never from
// the token. Auth failures complete the handshake and close with 1008, so a browser sees the
// code instead of a bare 1006.
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');
const jwt = require('jsonwebtoken');
const Redis = require('ioredis');
const { WebSocketServer } = require('ws');

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`node peer: environment variable ${name} is required`);
    process.exit(2);
  }
  return v;
}

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(required('PORT'));
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const JWT_KEY = crypto.createSecretKey(Buffer.from(required('JWT_SECRET'), 'utf8'));
const VERIFY_OPTIONS = { algorithms: ['HS256'] };
const PING_INTERVAL_MS = 30_000; // drop peers that vanished without a FIN (ws README pattern)
const ROUTE = /^\/ws\/v1\/status\/([^/?]+)$/;
const CHANNEL_PREFIX = 'ws:';

/** Returns the token's `sub`, or null when the token is missing or invalid (exp checked if present). */
function userIdFromToken(token) {
  if (!token) return null;
  try {
    const claims = jwt.verify(token, JWT_KEY, VERIFY_OPTIONS);
    return typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : null;
  } catch {
    return null;
  }
}

// --- Redis: one subscriber connection for the whole process ---------------------------------

const subscriber = new Redis(REDIS_URL, { lazyConnect: false });
subscriber.on('error', (err) => console.error(`node peer: redis: ${err.message}`));

/** user id -> Set of open sockets of that user. */
const sessions = new Map();

subscriber.on('message', (channel, message) => {
  const sockets = sessions.get(channel.slice(CHANNEL_PREFIX.length));
  if (!sockets) return;
  for (const ws of sockets) ws.send(message); // a string goes out as a text frame
});

function join(userId, ws) {
  let sockets = sessions.get(userId);
  if (sockets) {
    sockets.add(ws);
    return;
  }
  sockets = new Set([ws]);
  sessions.set(userId, sockets);
  // The handshake is already complete; messages can only arrive after Redis acknowledges the
  // SUBSCRIBE, so there is nothing to hold back meanwhile. If it fails, the user's sockets
  // cannot be served: close them with 1011 and forget the user.
  subscriber.subscribe(CHANNEL_PREFIX + userId).catch((err) => {
    console.error(`node peer: subscribe failed: ${err.message}`);
    if (sessions.get(userId) !== sockets) return;
    sessions.delete(userId);
    for (const s of sockets) s.close(1011, 'subscribe failed');
  });
}

function leave(userId, ws) {
  const sockets = sessions.get(userId);
  if (!sockets || !sockets.delete(ws) || sockets.size > 0) return;
  sessions.delete(userId);
  subscriber.unsubscribe(CHANNEL_PREFIX + userId).catch((err) => {
    console.error(`node peer: unsubscribe failed: ${err.message}`);
  });
}

// --- HTTP and WebSocket ----------------------------------------------------------------------

const server = http.createServer((req, res) => {
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found\n');
});
// Clients send nothing but control frames: a small maxPayload bounds what one can make us buffer.
const wss = new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false });

const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';
const NOT_FOUND = 'HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => {}); // a reset before ws takes the socket over must not crash us
  let url, clientId;
  try {
    url = new URL(req.url, 'http://localhost'); // both throw on malformed input
    const route = ROUTE.exec(url.pathname);
    if (!route) return socket.end(NOT_FOUND);
    clientId = decodeURIComponent(route[1]);
  } catch {
    return socket.end(BAD_REQUEST);
  }
  const userId = userIdFromToken(url.searchParams.get('token'));
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (userId === null) return ws.close(1008, 'invalid token');
    if (userId !== clientId) return ws.close(1008, 'client_id mismatch');
    serve(ws, userId);
  });
});

function serve(ws, userId) {
  ws.isAlive = true;
  ws.on('pong', () => {
    ws.isAlive = true;
  });
  ws.on('error', () => {}); // the 'close' that follows does the cleanup
  ws.on('close', () => leave(userId, ws));
  join(userId, ws);
}

const pinger = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) {
      ws.terminate();
      continue;
    }
    ws.isAlive = false;
    ws.ping();
  }
}, PING_INTERVAL_MS);

server.on('error', (err) => {
  console.error(`node peer: listen on ${HOST}:${PORT}: ${err.message}`);
  process.exit(1);
});
server.listen({ host: HOST, port: PORT, backlog: 2048 });

function shutdown() {
  clearInterval(pinger);
  for (const ws of wss.clients) ws.close(1001, 'shutting down');
  server.close();
  subscriber.disconnect();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
