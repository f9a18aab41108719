'use strict';
// The SMSC sink of the MT fan-out benchmark (cmd/loadtest/push/run.sh),
// built on node-smpp 0.5.1 (an SMPP implementation we did not write; the
// same one as smpp/testdata/smsc, whose node_modules it reuses so there is
// one `npm ci` location). Kannel and the gateway send into it in turn.
//
// It accepts binds from a configured list of system_id:password pairs,
// answers every submit_sm with a fresh message id and, when
// registered_delivery asks for one, sends a text-format delivery receipt
// deliver_sm ("id:... stat:DELIVRD ..."). It counts submits per
// destination+text, so a duplicate is seen whatever the sender's ids.
//
//   node sink.js [-port 0] [-http-port 0] [-users sys:pass,sys2:*] [-out file.json] [-no-dlr]
//
// stdout: JSON lines, first {"ev":"listening","port":N,"http_port":M},
// then binds and closes, and a stats line on SIGUSR1.
// HTTP on 127.0.0.1:  GET /stats  -> the counts as JSON
//                     POST /reset -> the counts so far, then zero (one side of the run)
//                     GET /dlr?type=%d -> counts a receipt callback (Kannel's dlr-url)
//                     POST /refuse?system_id=x, POST /accept?system_id=x -> refuse x's binds, or not
// At exit (SIGTERM, SIGINT, stdin closed when -stdin) the stats go to -out.
// Loopback only: it listens on 127.0.0.1 and nothing else.

const path = require('path');
const http = require('http');
const fs = require('fs');
const { createRequire } = require('module');

// node-smpp from the test SMSC's folder: one package-lock for both.
const smscDir = path.join(__dirname, '..', '..', '..', 'smpp', 'testdata', 'smsc');
const smpp = createRequire(path.join(smscDir, 'package.json'))('smpp');

function flags(argv) {
  const o = { port: 0, 'http-port': 0, users: 'kannel:secret,ussdgw:*', out: '', dlr: true, stdin: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i].replace(/^-+/, '');
    if (a === 'no-dlr') o.dlr = false;
    else if (a === 'stdin') o.stdin = true;
    else if (a in o) o[a] = argv[++i];
    else { console.error('sink.js: unknown flag ' + argv[i]); process.exit(2); }
  }
  o.port = Number(o.port);
  o['http-port'] = Number(o['http-port']);
  o.users = new Map(String(o.users).split(',').filter(Boolean).map((u) => {
    const i = u.indexOf(':');
    return i < 0 ? [u, '*'] : [u.slice(0, i), u.slice(i + 1)];
  }));
  return o;
}

const opt = flags(process.argv.slice(2));
const out = (ev) => process.stdout.write(JSON.stringify(ev) + '\n');

// Counts of one side of the run; /reset starts a new one.
function fresh() {
  return {
    seen: new Map(),   // dst + "\0" + text -> submits
    submits: 0, duplicates: 0, parts: 0,
    receipts_sent: 0, receipts_acked: 0, receipts_failed: 0,
    first: 0, last: 0, // ms since the epoch, fractional
    binds: 0, bind_failures: 0,
    callbacks: 0, callbacks_delivered: 0, // GET /dlr: Kannel's dlr-url, the receipt as the app sees it
  };
}
let c = fresh();

function stats() {
  const secs = c.submits > 1 ? (c.last - c.first) / 1000 : 0;
  return {
    submits: c.submits, unique: c.seen.size, duplicates: c.duplicates,
    multipart_submits: c.parts,
    receipts_sent: c.receipts_sent, receipts_acked: c.receipts_acked, receipts_failed: c.receipts_failed,
    first_submit: c.first ? new Date(c.first).toISOString() : null,
    last_submit: c.last ? new Date(c.last).toISOString() : null,
    first_ms: Math.round(c.first), last_ms: Math.round(c.last), // epoch ms, for end-to-end times
    seconds: Number(secs.toFixed(3)),
    rate: secs > 0 ? Math.round((c.submits - 1) / secs) : 0, // intervals between first and last
    dlr_callbacks: c.callbacks, dlr_callbacks_delivered: c.callbacks_delivered,
    binds: c.binds, bind_failures: c.bind_failures, sessions: sessions.size,
  };
}

const t0 = Date.now() - performance.now(); // epoch of performance.now's zero
const now = () => t0 + performance.now();

let nextID = 1;
const refused = new Set(); // system_ids whose binds are refused for now (POST /refuse)
const sessions = new Map();
let nextSession = 1;

// The text of a submit_sm, whatever field carries it.
function text(p) {
  const sm = p.message_payload !== undefined ? p.message_payload : p.short_message;
  if (sm === undefined || sm === null) return '';
  const m = typeof sm === 'object' && !Buffer.isBuffer(sm) ? sm.message : sm;
  return Buffer.isBuffer(m) ? m.toString('hex') : String(m);
}

function stamp(d) { // YYMMDDhhmm
  const z = (n) => String(n).padStart(2, '0');
  return z(d.getUTCFullYear() % 100) + z(d.getUTCMonth() + 1) + z(d.getUTCDate()) + z(d.getUTCHours()) + z(d.getUTCMinutes());
}

// A receipt goes back on the session the submit came on when it can take
// one (transceiver), else on the newest receiver of the same system_id.
function receiverFor(s) {
  if (s.bind !== 'bind_transmitter') return s;
  let best;
  for (const x of sessions.values()) if (x.bind !== 'bind_transmitter' && x.system_id === s.system_id) best = x;
  return best;
}

function receipt(s, p, id, txt) {
  const target = receiverFor(s);
  if (!target) { c.receipts_failed++; return; }
  const d = stamp(new Date());
  const body = `id:${id} sub:001 dlvrd:001 submit date:${d} done date:${d} stat:DELIVRD err:000 text:${txt.slice(0, 20)}`;
  const counts = c; // a reset while in flight must not move the ack into the next side
  counts.receipts_sent++;
  target.send(new smpp.PDU('deliver_sm', {
    source_addr: p.destination_addr, source_addr_ton: p.dest_addr_ton, source_addr_npi: p.dest_addr_npi,
    destination_addr: p.source_addr, dest_addr_ton: p.source_addr_ton, dest_addr_npi: p.source_addr_npi,
    esm_class: 0x04, data_coding: 0, short_message: Buffer.from(body),
  }), (r) => { if (r.command_status === 0) counts.receipts_acked++; else counts.receipts_failed++; });
}

const server = smpp.createServer((s) => {
  s.id = nextSession++;
  sessions.set(s.id, s);
  for (const cmd of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) {
    s.on(cmd, (p) => {
      const want = opt.users.get(p.system_id);
      const ok = want !== undefined && (want === '*' || want === p.password) && !refused.has(p.system_id);
      if (!ok) {
        c.bind_failures++;
        s.send(p.response({ command_status: smpp.ESME_RBINDFAIL }));
        out({ ev: 'bind', session: s.id, command: cmd, ok, system_id: p.system_id });
        s.close();
        return;
      }
      s.bind = cmd;
      s.system_id = p.system_id;
      c.binds++;
      s.send(p.response({ system_id: 'sink' }));
      out({ ev: 'bind', session: s.id, command: cmd, ok, system_id: p.system_id });
    });
  }
  s.on('submit_sm', (p) => {
    if (!s.bind) { s.send(p.response({ command_status: smpp.ESME_RINVBNDSTS })); return; }
    const t = now();
    if (c.submits === 0) c.first = t;
    c.last = t;
    c.submits++;
    const txt = text(p);
    if ((p.esm_class & 0x40) || p.sar_msg_ref_num !== undefined) c.parts++;
    const key = p.destination_addr + '\0' + txt;
    const n = c.seen.get(key) || 0;
    if (n > 0) c.duplicates++;
    c.seen.set(key, n + 1);
    const id = String(nextID++);
    s.send(p.response({ message_id: id }));
    if (opt.dlr && (p.registered_delivery & 0x03)) receipt(s, p, id, txt);
  });
  s.on('enquire_link', (p) => s.send(p.response()));
  s.on('unbind', (p) => { s.send(p.response()); s.close(); });
  s.on('close', () => { sessions.delete(s.id); out({ ev: 'close', session: s.id, system_id: s.system_id }); });
  s.on('error', (e) => out({ ev: 'error', session: s.id, message: String(e && e.message) }));
});

const web = http.createServer((req, res) => {
  const reply = (code, body) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body) + '\n');
  };
  if (req.method === 'GET' && req.url === '/stats') return reply(200, stats());
  if (req.method === 'GET' && req.url.startsWith('/dlr')) {
    // Kannel's dlr-url: type 1 is "delivered to phone".
    c.callbacks++;
    if (new URL(req.url, 'http://sink').searchParams.get('type') === '1') c.callbacks_delivered++;
    res.writeHead(200, { 'content-type': 'text/plain' });
    return res.end('ok\n');
  }
  if (req.method === 'POST' && req.url === '/reset') {
    const before = stats();
    c = fresh();
    return reply(200, before);
  }
  // POST /refuse?system_id=x closes x's sessions and refuses its binds
  // until POST /accept?system_id=x: the sender's queue then fills up
  // without anything leaving it (run.sh measures Redis bytes per queued
  // message that way).
  const u = new URL(req.url, 'http://sink');
  if (req.method === 'POST' && (u.pathname === '/refuse' || u.pathname === '/accept')) {
    const id = u.searchParams.get('system_id') || '';
    if (u.pathname === '/accept') refused.delete(id);
    else {
      refused.add(id);
      for (const x of sessions.values()) if (x.system_id === id) x.socket.destroy();
    }
    return reply(200, { refused: [...refused] });
  }
  reply(404, { error: 'GET /stats, POST /reset, GET /dlr, POST /refuse|/accept?system_id=' });
});

let exiting = false;
function exit() {
  if (exiting) return;
  exiting = true;
  const s = stats();
  if (opt.out) fs.writeFileSync(opt.out, JSON.stringify(s, null, 2) + '\n');
  out(Object.assign({ ev: 'exit' }, s));
  process.exit(0);
}
process.on('SIGUSR1', () => out(Object.assign({ ev: 'stats' }, stats())));
process.on('SIGTERM', exit);
process.on('SIGINT', exit);
if (opt.stdin) process.stdin.on('end', exit).resume();

server.listen(opt.port, '127.0.0.1', () => {
  web.listen(opt['http-port'], '127.0.0.1', () => {
    out({ ev: 'listening', port: server.address().port, http_port: web.address().port });
  });
});
