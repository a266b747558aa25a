#!/usr/bin/env node
// devdb: a development/test SurrealDB server.
//
// It runs the embedded SurrealDB engine shipped in the `@surrealdb/node` npm
// package (SurrealDB 3.x, in memory by default) and serves SurrealDB's
// WebSocket RPC protocol (subprotocol "cbor") on a TCP port, so that any
// SurrealDB SDK (e.g. github.com/surrealdb/surrealdb.go) can talk to it as if
// it were `surreal start`.
//
// Usage: node server.mjs [--port 8000] [--host 127.0.0.1] [--user root]
//                        [--pass root] [--path mem://] [--allow-anonymous]
//                        [--allow-net] [--allow-net-target HOST:PORT]...
//
// Credentials may also come from DEVDB_USER / DEVDB_PASS, the port from
// DEVDB_PORT. --port 0 picks a free port. Once listening, exactly one line
// "DEVDB_LISTENING <host>:<port>" is printed to stdout. The process exits on
// SIGTERM/SIGINT, and when its stdin is a pipe or socket that reaches EOF (so a
// killed parent does not leave it running).
//
// Design: requests are forwarded to the engine as raw CBOR. Only the top-level
// request map is taken apart (to read id/method/session and to add the
// engine session); params are passed through byte for byte, so no value is
// ever re-encoded (floats stay floats, SurrealDB tags stay intact). Every
// WebSocket connection gets its own engine session (`attach`), and sessions a
// client attaches itself are mapped to private engine sessions too.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocketServer, WebSocket } from 'ws';

// ---------------------------------------------------------------------------
// Command line

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      user: { type: 'string' },
      pass: { type: 'string' },
      path: { type: 'string' },
      'allow-anonymous': { type: 'boolean', default: false },
      'allow-net': { type: 'boolean', default: false },
      'allow-net-target': { type: 'string', multiple: true, default: [] },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (e) {
  console.error(`devdb: ${e.message} (see --help)`);
  process.exit(2);
}

if (args.help) {
  process.stdout.write(`usage: node server.mjs [options]
  --port N            TCP port (default $DEVDB_PORT or 8000; 0 = any free port)
  --host ADDR         listen address (default 127.0.0.1)
  --user NAME         root user to define (default $DEVDB_USER or root)
  --pass PASS         its password (default $DEVDB_PASS or root)
  --path URL          storage: mem:// (default), surrealkv://DIR, rocksdb://DIR
  --allow-anonymous   let connections that did not sign in run queries
  --allow-net         let queries reach every network target (http::post etc.)
  --allow-net-target HOST[:PORT]
                      let queries reach this target only (repeatable)
  --verbose           log connections and errors to stderr
`);
  process.exit(0);
}

const port = Number(args.port ?? process.env.DEVDB_PORT ?? 8000);
const host = args.host;
const rootUser = args.user ?? process.env.DEVDB_USER ?? 'root';
const rootPass = args.pass ?? process.env.DEVDB_PASS ?? 'root';
const storage = args.path ?? process.env.DEVDB_PATH ?? 'mem://';
const allowAnonymous = args['allow-anonymous'];
const allowNet = args['allow-net'];
const netTargets = args['allow-net-target'];
const verbose = args.verbose;

if (!Number.isInteger(port) || port < 0 || port > 65535) {
  fail(`invalid --port ${args.port}`);
}

function log(...parts) {
  if (verbose) console.error('devdb:', ...parts);
}

function fail(msg) {
  console.error(`devdb: ${msg}`);
  process.exit(1);
}

// ---------------------------------------------------------------------------
// Native engine. `@surrealdb/node` only exports a JS-SDK engine wrapper, which
// hides the native binding; load the platform's .node file the same way the
// package does (binary inside dist/, or a per-platform optional package).

function loadNative() {
  const require = createRequire(import.meta.url);
  const dist = path.dirname(fileURLToPath(import.meta.resolve('@surrealdb/node')));
  const { platform, arch } = process;
  let triple;
  if (platform === 'linux') {
    if (process.report) process.report.excludeNetwork = true;
    const glibc = process.report?.getReport?.()?.header?.glibcVersionRuntime;
    triple = `linux-${arch}-${glibc ? 'gnu' : 'musl'}`;
    if (arch === 'arm') triple = `linux-arm-${glibc ? 'gnueabihf' : 'musleabihf'}`;
  } else if (platform === 'win32') {
    triple = `win32-${arch}-msvc`;
  } else {
    triple = `${platform}-${arch}`;
  }
  const candidates = [
    path.join(dist, `surrealdb-node.${triple}.node`),
    `@surrealdb/node-${triple}`,
  ];
  if (platform === 'darwin') candidates.unshift(path.join(dist, 'surrealdb-node.darwin-universal.node'));
  const errors = [];
  for (const c of candidates) {
    if (c.startsWith('/') && !fs.existsSync(c)) continue;
    try {
      return require(c);
    } catch (e) {
      errors.push(`${c}: ${e.message}`);
    }
  }
  throw new Error(`no @surrealdb/node native binding for ${triple}: ${errors.join('; ') || 'not shipped'}`);
}

// ---------------------------------------------------------------------------
// Minimal CBOR: walk items without decoding them, and encode small values.

class CborError extends Error {}

function head(buf, off) {
  if (off >= buf.length) throw new CborError('truncated CBOR');
  const ib = buf[off];
  const major = ib >> 5;
  const info = ib & 31;
  let val;
  let next;
  if (info < 24) {
    val = info;
    next = off + 1;
  } else if (info === 24) {
    val = buf[off + 1];
    next = off + 2;
  } else if (info === 25) {
    val = buf.readUInt16BE(off + 1);
    next = off + 3;
  } else if (info === 26) {
    val = buf.readUInt32BE(off + 1);
    next = off + 5;
  } else if (info === 27) {
    const big = buf.readBigUInt64BE(off + 1);
    val = big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : Infinity;
    next = off + 9;
  } else if (info === 31 && major >= 2 && major <= 5) {
    val = -1; // indefinite length
    next = off + 1;
  } else if (info === 31 && major === 7) {
    throw new CborError('unexpected CBOR break');
  } else {
    throw new CborError(`invalid CBOR initial byte 0x${ib.toString(16)}`);
  }
  if (next > buf.length) throw new CborError('truncated CBOR');
  return { major, info, val, next };
}

// skip returns the offset just past the CBOR item that starts at off.
function skip(buf, off) {
  const h = head(buf, off);
  switch (h.major) {
    case 0:
    case 1:
      return h.next;
    case 2:
    case 3: {
      if (h.val >= 0) {
        const end = h.next + h.val;
        if (end > buf.length) throw new CborError('truncated CBOR');
        return end;
      }
      let p = h.next;
      while (buf[p] !== 0xff) p = skip(buf, p);
      return p + 1;
    }
    case 4:
    case 5: {
      const items = h.major === 5 ? h.val * 2 : h.val;
      let p = h.next;
      if (h.val >= 0) {
        for (let i = 0; i < items; i++) p = skip(buf, p);
        return p;
      }
      while (p < buf.length && buf[p] !== 0xff) p = skip(buf, p);
      if (p >= buf.length) throw new CborError('truncated CBOR');
      return p + 1;
    }
    case 6:
      return skip(buf, h.next);
    default:
      return h.next; // simple values and floats: head() already sized them
  }
}

// mapEntries lists the raw key/value ranges of the CBOR map at off, or returns
// null when the item is not a map.
function mapEntries(buf, off = 0) {
  const h = head(buf, off);
  if (h.major !== 5) return null;
  const entries = [];
  let p = h.next;
  for (let i = 0; h.val < 0 ? buf[p] !== 0xff : i < h.val; i++) {
    const k = p;
    const v = skip(buf, k);
    p = skip(buf, v);
    entries.push({ key: textAt(buf, k), k, v, end: p });
  }
  return entries;
}

// arrayItems lists the raw ranges of the items of the CBOR array at off, or
// returns null when the item is not an array.
function arrayItems(buf, off = 0) {
  const h = head(buf, off);
  if (h.major !== 4) return null;
  const items = [];
  let p = h.next;
  for (let i = 0; h.val < 0 ? buf[p] !== 0xff : i < h.val; i++) {
    const e = skip(buf, p);
    items.push({ start: p, end: e });
    p = e;
  }
  return items;
}

// textAt decodes a definite-length text string, or returns null.
function textAt(buf, off) {
  const h = head(buf, off);
  if (h.major !== 3 || h.val < 0) return null;
  return buf.toString('utf8', h.next, h.next + h.val);
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

// uuidAt decodes a UUID (tag 37 over 16 bytes, or its text form) into a
// 16-byte Buffer, or returns null.
function uuidAt(buf, off) {
  const h = head(buf, off);
  if (h.major === 6 && h.val === 37) {
    const b = head(buf, h.next);
    if (b.major === 2 && b.val === 16) return Buffer.from(buf.subarray(b.next, b.next + 16));
    return null;
  }
  if (h.major === 3) {
    const s = textAt(buf, off);
    if (s && UUID_RE.test(s)) return Buffer.from(s.replaceAll('-', ''), 'hex');
  }
  return null;
}

function isNoneOrNull(buf, off) {
  const h = head(buf, off);
  if (h.major === 7) return h.info === 22 || h.info === 23;
  return h.major === 6 && h.val === 6 && isNoneOrNull(buf, h.next);
}

function encHead(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) {
    const b = Buffer.alloc(3);
    b[0] = (major << 5) | 25;
    b.writeUInt16BE(n, 1);
    return b;
  }
  if (n < 0x100000000) {
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(n, 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = (major << 5) | 27;
  b.writeBigUInt64BE(BigInt(n), 1);
  return b;
}

const NONE = Symbol('NONE');

// Raw wraps pre-encoded CBOR bytes so enc() copies them verbatim.
class Raw {
  constructor(bytes) {
    this.bytes = bytes;
  }
}

// Uuid marks a 16-byte Buffer to be encoded as a SurrealDB UUID (tag 37).
class Uuid {
  constructor(bytes) {
    this.bytes = bytes;
  }
}

// enc encodes the small set of values this server produces itself.
function enc(v) {
  if (v instanceof Raw) return v.bytes;
  if (v instanceof Uuid) return Buffer.concat([Buffer.from([0xd8, 37]), encHead(2, 16), v.bytes]);
  if (v === NONE) return Buffer.from([0xc6, 0xf6]);
  if (v === null || v === undefined) return Buffer.from([0xf6]);
  if (v === true) return Buffer.from([0xf5]);
  if (v === false) return Buffer.from([0xf4]);
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v >= 0 ? encHead(0, v) : encHead(1, -1 - v);
  if (typeof v === 'number') {
    const b = Buffer.alloc(9);
    b[0] = 0xfb;
    b.writeDoubleBE(v, 1);
    return b;
  }
  if (typeof v === 'string') {
    const s = Buffer.from(v, 'utf8');
    return Buffer.concat([encHead(3, s.length), s]);
  }
  if (Buffer.isBuffer(v)) return Buffer.concat([encHead(2, v.length), v]);
  if (Array.isArray(v)) return Buffer.concat([encHead(4, v.length), ...v.map(enc)]);
  if (v instanceof Map) return Buffer.concat([encHead(5, v.size), ...[...v].flatMap(([k, x]) => [enc(k), enc(x)])]);
  if (typeof v === 'object') {
    const e = Object.entries(v).filter(([, x]) => x !== undefined);
    return Buffer.concat([encHead(5, e.length), ...e.flatMap(([k, x]) => [enc(k), enc(x)])]);
  }
  throw new Error(`cannot encode ${typeof v}`);
}

const uuidHex = (b) => b.toString('hex');
const uuidString = (b) => {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
const newUuid = () => Buffer.from(randomUUID().replaceAll('-', ''), 'hex');

// JSON-RPC style error codes used by SurrealDB.
const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
const INTERNAL_ERROR = -32603;
const SERVER_ERROR = -32000;
const NOT_ALLOWED = -32002;

function rpcError(code, kind, message) {
  return { code, kind, message };
}

// ---------------------------------------------------------------------------
// Engine, sessions and live queries

let native;
try {
  native = loadNative();
} catch (e) {
  fail(e.message);
}

let engine;
try {
  // Outgoing HTTP (http::get/post/…) is denied unless network targets are
  // allowed: SurrealDB's --allow-net (all, or the listed targets only).
  let options;
  if (allowNet) {
    options = { capabilities: { network_targets: true } };
  } else if (netTargets.length > 0) {
    options = { capabilities: { network_targets: { allow: netTargets } } };
  }
  engine = await native.SurrealNodeEngine.connect(storage, options);
} catch (e) {
  fail(`cannot open ${storage}: ${e.message}`);
}
let engineVersion = 'unknown';
try {
  engineVersion = String(await native.SurrealNodeEngine.version());
} catch {
  // keep 'unknown'
}

// Methods an unauthenticated session may call. The embedded engine treats a
// session that never signed in as fully privileged; a real server does not,
// so everything else is refused until signin/signup/authenticate succeeds.
const ANONYMOUS_METHODS = new Set([
  'ping', 'version', 'health', 'signin', 'signup', 'authenticate', 'refresh', 'revoke',
  'invalidate', 'reset', 'use', 'let', 'set', 'unset', 'info', 'attach', 'detach', 'sessions',
]);
const AUTH_METHODS = new Set(['signin', 'signup', 'authenticate', 'refresh']);
const DEAUTH_METHODS = new Set(['invalidate', 'reset']);

/** Engine sessions by hex id. */
const sessionsByEngineId = new Map();
/** Live query owner sessions by hex live query id. */
const livesById = new Map();
/** Open connections. */
const connections = new Set();

class Session {
  constructor(conn, clientId) {
    this.conn = conn;
    this.clientId = clientId; // Buffer, or null for the connection's default session
    this.engineId = newUuid();
    this.hex = uuidHex(this.engineId);
    this.authed = false;
    this.lives = new Set();
  }
}

function addLive(sess, liveId) {
  const h = uuidHex(liveId);
  livesById.set(h, sess);
  sess.lives.add(h);
}

function dropLive(h) {
  const sess = livesById.get(h);
  if (sess) sess.lives.delete(h);
  livesById.delete(h);
}

async function execute(request) {
  return Buffer.from(await engine.execute(enc(request)));
}

async function attachSession(sess) {
  const res = await execute({ method: 'attach', session: new Uuid(sess.engineId) });
  const err = engineError(res);
  if (err) throw new Error(`attach failed: ${res.toString('hex')}`);
  sessionsByEngineId.set(sess.hex, sess);
}

// releaseSession kills the live queries a session started, then detaches it
// (detach alone leaves live queries running in SurrealDB 3.0).
async function releaseSession(sess) {
  for (const h of [...sess.lives]) {
    try {
      await execute({ method: 'kill', params: [new Uuid(Buffer.from(h, 'hex'))], session: new Uuid(sess.engineId) });
    } catch (e) {
      log('kill on close failed:', e.message);
    }
    dropLive(h);
  }
  try {
    await execute({ method: 'detach', session: new Uuid(sess.engineId) });
  } catch (e) {
    log('detach failed:', e.message);
  }
  sessionsByEngineId.delete(sess.hex);
}

// engineError returns the raw error value when an engine result is an error
// ({error: {...}} with that single key), or null.
function engineError(res) {
  const h = head(res, 0);
  if (h.major !== 5 || h.val !== 1) return null;
  const [e] = mapEntries(res, 0);
  if (e.key !== 'error' || head(res, e.v).major !== 5) return null;
  return res.subarray(e.v, e.end);
}

class Connection {
  constructor(ws, remote) {
    this.ws = ws;
    this.remote = remote;
    this.main = new Session(this, null);
    this.sessions = new Map(); // client session hex -> Session
    this.closed = false;
    this.inflight = new Set(); // requests being handled, awaited by close()
    this.ready = attachSession(this.main);
    this.ready.catch((e) => {
      log(e.message);
      ws.close(1011, 'cannot create engine session');
    });
  }

  send(bytes) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes, { binary: true });
  }

  reply(rawId, fields) {
    const parts = [];
    let n = 0;
    if (rawId) {
      parts.push(enc('id'), rawId);
      n++;
    }
    for (const [k, v] of Object.entries(fields)) {
      parts.push(enc(k), enc(v));
      n++;
    }
    this.send(Buffer.concat([encHead(5, n), ...parts]));
  }

  async handle(frame) {
    let rawId = null;
    try {
      const entries = mapEntries(frame, 0);
      if (!entries || skip(frame, 0) !== frame.length) {
        return this.reply(null, { error: rpcError(PARSE_ERROR, 'Serialization', 'Parse error: expected one CBOR map') });
      }
      const fields = new Map(entries.map((e) => [e.key, e]));
      const idEntry = fields.get('id');
      if (idEntry) rawId = frame.subarray(idEntry.v, idEntry.end);
      const methodEntry = fields.get('method');
      const method = methodEntry ? textAt(frame, methodEntry.v) : null;
      if (!method) return this.reply(rawId, { error: rpcError(INVALID_REQUEST, 'Validation', 'Invalid request: missing method') });

      let clientSession = null;
      const sessEntry = fields.get('session');
      if (sessEntry && !isNoneOrNull(frame, sessEntry.v)) {
        clientSession = uuidAt(frame, sessEntry.v);
        if (!clientSession) return this.reply(rawId, { error: rpcError(INVALID_REQUEST, 'Validation', 'Invalid request: session must be a UUID') });
      }

      await this.ready;
      const result = await this.dispatch(method, clientSession, frame, entries);
      this.reply(rawId, result);
    } catch (e) {
      const message = e instanceof CborError ? `Parse error: ${e.message}` : e.message;
      log('request failed:', message);
      this.reply(rawId, { error: rpcError(e instanceof CborError ? PARSE_ERROR : INTERNAL_ERROR, 'Internal', message) });
    }
  }

  // dispatch handles one request and returns {result} or {error}.
  async dispatch(method, clientSession, frame, entries) {
    switch (method) {
      case 'attach': {
        if (!clientSession) return { error: rpcError(INVALID_REQUEST, 'Validation', 'attach requires a session UUID') };
        const key = uuidHex(clientSession);
        if (this.sessions.has(key)) {
          return { error: rpcError(SERVER_ERROR, 'AlreadyExists', `Session already exists: ${uuidString(clientSession)}`) };
        }
        const sess = new Session(this, clientSession);
        this.sessions.set(key, sess);
        try {
          await attachSession(sess);
        } catch (e) {
          this.sessions.delete(key);
          throw e;
        }
        return { result: NONE };
      }
      case 'detach': {
        if (!clientSession) return { error: rpcError(INVALID_REQUEST, 'Validation', 'detach requires a session UUID; close the connection to end the default session') };
        const sess = this.sessions.get(uuidHex(clientSession));
        if (sess) {
          this.sessions.delete(uuidHex(clientSession));
          await releaseSession(sess);
        }
        return { result: NONE };
      }
      case 'sessions':
        return { result: [...this.sessions.values()].map((s) => new Uuid(s.clientId)) };
      case 'ping':
      case 'health':
        return { result: NONE };
      case 'version':
        return { result: `surrealdb-${engineVersion}` };
      default:
        break;
    }

    let sess = this.main;
    if (clientSession) {
      sess = this.sessions.get(uuidHex(clientSession));
      if (!sess) return { error: rpcError(SERVER_ERROR, 'NotFound', `Session not found: ${uuidString(clientSession)}`) };
    }
    if (!sess.authed && !allowAnonymous && !ANONYMOUS_METHODS.has(method)) {
      return {
        error: rpcError(NOT_ALLOWED, 'NotAllowed',
          'IAM error: Not enough permissions to perform this action (devdb: sign in first)'),
      };
    }

    // Rebuild the request: every field except id/session verbatim, plus our
    // engine session.
    const parts = [];
    let n = 0;
    for (const e of entries) {
      if (e.key === 'id' || e.key === 'session') continue;
      parts.push(frame.subarray(e.k, e.end));
      n++;
    }
    parts.push(enc('session'), enc(new Uuid(sess.engineId)));
    n++;
    const res = await execute(new Raw(Buffer.concat([encHead(5, n), ...parts])));

    const err = engineError(res);
    if (err) return { error: new Raw(err) };
    if (AUTH_METHODS.has(method)) sess.authed = true;
    if (DEAUTH_METHODS.has(method)) sess.authed = false;
    if (method === 'live') {
      const id = uuidAt(res, 0);
      if (id) addLive(sess, id);
    } else if (method === 'query') {
      this.trackQueryLives(sess, res);
    } else if (method === 'kill') {
      const p = entries.find((e) => e.key === 'params');
      const items = p && arrayItems(frame, p.v);
      const id = items?.length && uuidAt(frame, items[0].start);
      if (id) dropLive(uuidHex(id));
    }
    return { result: new Raw(res) };
  }

  // trackQueryLives records the ids of LIVE SELECT statements in a query
  // response ({type: "live", status: "OK", result: uuid}).
  trackQueryLives(sess, res) {
    const items = arrayItems(res, 0);
    if (!items) return;
    for (const it of items) {
      const entries = mapEntries(res, it.start);
      if (!entries) continue;
      const f = new Map(entries.map((e) => [e.key, e]));
      const type = f.get('type');
      const status = f.get('status');
      const result = f.get('result');
      if (!type || textAt(res, type.v) !== 'live' || !status || textAt(res, status.v) !== 'OK' || !result) continue;
      const id = uuidAt(res, result.v);
      if (id) addLive(sess, id);
    }
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    connections.delete(this);
    try {
      await this.ready;
    } catch {
      return;
    }
    // Let requests in flight finish first, so that sessions they attach and
    // live queries they start are released too.
    await Promise.allSettled([...this.inflight]);
    for (const sess of [this.main, ...this.sessions.values()]) await releaseSession(sess);
    this.sessions.clear();
  }
}

// Forward live query notifications to the connection that owns the live
// query, as {result: {id, action, record, result, session}} without an id.
async function pumpNotifications() {
  const receiver = await engine.notifications();
  for (;;) {
    let value;
    try {
      value = await receiver.recv();
    } catch (e) {
      log('notification stream failed:', e.message);
      return;
    }
    if (value === null || value === undefined) return;
    try {
      routeNotification(Buffer.from(value));
    } catch (e) {
      log('bad notification:', e.message);
    }
  }
}

function routeNotification(buf) {
  const entries = mapEntries(buf, 0);
  if (!entries) return;
  const f = new Map(entries.map((e) => [e.key, e]));
  const idEntry = f.get('id');
  const liveId = idEntry && uuidAt(buf, idEntry.v);
  if (!liveId) return;
  const liveHex = uuidHex(liveId);
  const sessEntry = f.get('session');
  const engineSession = sessEntry && uuidAt(buf, sessEntry.v);
  let sess = engineSession && sessionsByEngineId.get(uuidHex(engineSession));
  if (sess) {
    if (!livesById.has(liveHex)) addLive(sess, liveId);
  } else {
    sess = livesById.get(liveHex);
  }
  const actionEntry = f.get('action');
  if (actionEntry && textAt(buf, actionEntry.v) === 'KILLED') dropLive(liveHex);
  if (!sess || sess.conn.closed) return;

  // Show the client its own session id (NONE for the connection's default
  // session) instead of the private engine session.
  const parts = [];
  for (const e of entries) {
    if (e.key === 'session') {
      parts.push(enc('session'), enc(sess.clientId ? new Uuid(sess.clientId) : NONE));
    } else {
      parts.push(buf.subarray(e.k, e.end));
    }
  }
  const notification = Buffer.concat([encHead(5, entries.length), ...parts]);
  sess.conn.send(Buffer.concat([encHead(5, 1), enc('result'), notification]));
}

// ---------------------------------------------------------------------------
// Root user

{
  const ident = '`' + rootUser.replaceAll('\\', '\\\\').replaceAll('`', '\\`') + '`';
  const sql = `DEFINE USER OVERWRITE ${ident} ON ROOT PASSWORD ${JSON.stringify(rootPass)} ROLES OWNER`;
  const res = await execute({ method: 'query', params: [sql] });
  const err = engineError(res);
  const items = err ? null : arrayItems(res, 0);
  const statusEntry = items?.length ? mapEntries(res, items[0].start)?.find((e) => e.key === 'status') : null;
  if (!statusEntry || textAt(res, statusEntry.v) !== 'OK') {
    fail(`cannot define root user ${rootUser}: ${res.toString('hex')}`);
  }
}

pumpNotifications().catch((e) => log('notifications:', e.message));

// ---------------------------------------------------------------------------
// HTTP + WebSocket server

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/health' || url.pathname === '/status') {
    res.writeHead(200).end();
  } else if (url.pathname === '/version') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`surrealdb-${engineVersion}`);
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('devdb: connect a WebSocket to /rpc\n');
  }
});

const wss = new WebSocketServer({
  server,
  maxPayload: 256 * 1024 * 1024,
  handleProtocols: (protocols) => (protocols.has('cbor') ? 'cbor' : false),
});

wss.on('connection', (ws, req) => {
  const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
  const conn = new Connection(ws, remote);
  connections.add(conn);
  log('connection from', remote, 'protocol', ws.protocol || '(none)');
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      // Only CBOR is spoken; a text frame means the client wants JSON.
      ws.send(JSON.stringify({ error: { code: PARSE_ERROR, message: 'devdb only speaks the cbor subprotocol' } }));
      return;
    }
    const frame = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const p = conn.handle(frame).finally(() => conn.inflight.delete(p));
    conn.inflight.add(p);
  });
  ws.on('error', (e) => log('socket error', remote, e.message));
  ws.on('close', () => {
    log('closed', remote);
    conn.close().catch((e) => log('close failed:', e.message));
  });
});

// ---------------------------------------------------------------------------
// Shutdown

let stopping = false;
function shutdown(reason) {
  if (stopping) return;
  stopping = true;
  log('shutting down:', reason);
  for (const c of wss.clients) c.terminate();
  wss.close();
  server.close();
  try {
    engine.free();
  } catch {
    // already freed
  }
  process.exit(0);
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGHUP', () => shutdown('SIGHUP'));

// A parent that talks to us over a stdin pipe (the Go launcher does) is gone
// when the pipe closes. A terminal or /dev/null stdin is left alone, so
// `npm start` and `node server.mjs &` keep working.
try {
  const st = fs.fstatSync(0);
  if (st.isFIFO() || st.isSocket()) {
    process.stdin.on('end', () => shutdown('stdin closed'));
    process.stdin.on('error', () => shutdown('stdin error'));
    process.stdin.resume();
  }
} catch {
  // no stdin at all
}

server.on('error', (e) => fail(`cannot listen on ${host}:${port}: ${e.message}`));
server.listen(port, host, () => {
  const addr = server.address();
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  process.stdout.write(`DEVDB_LISTENING ${shown}:${addr.port}\n`);
  if (process.stdout.isTTY || verbose) {
    console.error(`devdb: SurrealDB ${engineVersion} (${storage}) on ws://${shown}:${addr.port}/rpc, user ${rootUser}`);
  }
});
