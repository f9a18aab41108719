'use strict';
// An SMSC for the Go tests of package smpp, built on node-smpp 0.5.1 (an
// SMPP implementation we did not write). It listens on 127.0.0.1 on a
// random port and talks JSON lines:
//
//   stdout: events, first {"ev":"listening","port":N}, then one per thing
//           that happens (bind, submit_sm, message, response, ...).
//   stdin:  commands, e.g. {"cmd":"set","withhold":true} or
//           {"cmd":"send","command":"deliver_sm","fields":{...},"tag":"t1"}.
//
// It reassembles concatenated MT (UDH 8/16-bit, SAR, message_payload) with
// node-smpp's own decoding and reports each whole message, so the Go tests
// compare what a peer decoded with what they sent. Fault injection: answer
// statuses, withheld or delayed responses, ignored submits, a dropped
// connection, a deliver_sm reusing an in-flight submit's sequence number,
// raw bytes, no enquire_link answers, a status on every nth submit
// (fail_every). With count set it counts the texts it accepted, for the
// exactly-once checks of long runs ("counts"). It plays a USSDC too: the tests send
// USSD deliver_sm with "send" and read the submit_sm answers, whose text
// it decodes for dc 0x0F as well. It exits when stdin closes.

const smpp = require('smpp');
const readline = require('readline');

const out = (ev) => process.stdout.write(JSON.stringify(ev) + '\n');
const emit = out;

const cfg = {
  system_id: 'test',
  password: 'secret',
  quiet: false,          // no per-PDU events (benchmarks)
  withhold: false,       // hold submit_sm responses until "release"
  ignore: 0,             // never answer the next N submit_sm
  delay: 0,              // answer the next N submit_sm after delay_ms
  delay_ms: 0,
  drop_after: 0,         // destroy the connection on the Nth submit_sm from now, unanswered
  fail: [],              // [{count, status}]: answer the next submits with a status
  collide: null,         // {fields}: next submit_sm: send deliver_sm with its seq first
  dlr: null,             // {mode:'tlv'|'text'|'both', id:'hex'|'dec', stat:'DELIVRD', state:2}
  id_format: 'dec',      // message_id format in submit_sm_resp
  answer_enquire: true,
  fail_every: null,      // {n, status}: answer every nth submit_sm (counting from this set) with status
  count: false,          // count accepted texts (see the "counts" command), for runs of many messages
};

let nextSession = 1;
let nextID = 0x1F0000;   // ids whose hex and decimal forms differ
const sessions = new Map();
const held = [];
const parts = new Map(); // concat key -> {total, got: Map(seq -> text)}
let submits = 0;
let dropCountdown = 0;
let everyCount = 0;
const accepted = new Map(); // text -> times answered ESME_ROK (cfg.count)
let droppedUnanswered = []; // texts of submits lost in a drop (the SMSC may have taken them)

const hex = (b) => (Buffer.isBuffer(b) ? b.toString('hex') : undefined);
const fmtID = (n, f) => (f === 'hex' ? n.toString(16).toUpperCase() : String(n));

function outstanding() {
  let n = 0;
  for (const s of sessions.values()) n += s.outstanding;
  return n;
}

// node-smpp reads data_coding & 0x0F, so the USSD coding 0x0F (and the
// GSM class codings 0xF0-0xF3) come as a Buffer: unpacked GSM 7-bit, which
// node-smpp's own GSM table decodes.
function gsm7(dc, b) {
  if (!Buffer.isBuffer(b) || !(dc === 0x0F || (dc >= 0xF0 && dc <= 0xF3))) return undefined;
  return smpp.gsmCoder.decode(b, 0x00);
}

// Decode one submit_sm into the facts the tests look at.
function describe(p) {
  const sm = p.short_message || {};
  const d = {
    src: p.source_addr, dst: p.destination_addr, service_type: p.service_type,
    esm_class: p.esm_class, dc: p.data_coding, registered_delivery: p.registered_delivery,
    source_ton: p.source_addr_ton, source_npi: p.source_addr_npi,
    dest_ton: p.dest_addr_ton, dest_npi: p.dest_addr_npi,
    text: typeof sm.message === 'string' ? sm.message : gsm7(p.data_coding, sm.message),
    sm_hex: Buffer.isBuffer(sm.message) ? hex(sm.message) : undefined,
    udh: (sm.udh || []).map(hex),
  };
  if (p.message_payload !== undefined) {
    const mp = p.message_payload;
    d.payload = typeof mp.message === 'string' ? mp.message : hex(mp.message || mp);
  }
  for (const k of ['sar_msg_ref_num', 'sar_total_segments', 'sar_segment_seqnum', 'ussd_service_op', 'user_message_reference']) {
    if (p[k] !== undefined) d[k] = p[k];
  }
  if (p.its_session_info !== undefined) d.its_session_info = hex(p.its_session_info);
  return d;
}

// Reassemble with node-smpp's decoding; emit "message" when whole. A USSD
// screen (it has ussd_service_op) is reported as a message too, marked.
function reassemble(d) {
  const out = (ev) => emit(d.ussd_service_op === undefined ? ev : Object.assign(ev, { ussd: true }));
  if (d.payload !== undefined) {
    out({ ev: 'message', dst: d.dst, src: d.src, method: 'payload', parts: 1, dc: d.dc, text: d.payload });
    return;
  }
  let key, total, seq, method;
  for (const u of d.udh) {
    const b = Buffer.from(u, 'hex');
    if (b[0] === 0x00 && b[1] === 3) { key = 'u8:' + b[2]; total = b[3]; seq = b[4]; method = 'udh8'; }
    if (b[0] === 0x08 && b[1] === 4) { key = 'u16:' + b.readUInt16BE(2); total = b[4]; seq = b[5]; method = 'udh16'; }
  }
  if (key === undefined && d.sar_total_segments !== undefined) {
    key = 'sar:' + d.sar_msg_ref_num; total = d.sar_total_segments; seq = d.sar_segment_seqnum; method = 'sar';
  }
  if (key === undefined) {
    out({ ev: 'message', dst: d.dst, src: d.src, method: 'single', parts: 1, dc: d.dc, text: d.text });
    return;
  }
  key = d.dst + '|' + key + '|' + total;
  let m = parts.get(key);
  if (!m) { m = { total, got: new Map() }; parts.set(key, m); }
  if (m.got.has(seq)) out({ ev: 'duplicate_part', dst: d.dst, key, seq });
  m.got.set(seq, d.text);
  if (m.got.size === m.total) {
    parts.delete(key);
    let text = '';
    for (let i = 1; i <= m.total; i++) text += m.got.get(i);
    out({ ev: 'message', dst: d.dst, src: d.src, method, parts: m.total, dc: d.dc, text });
  }
}

function answer(s, p) {
  s.outstanding--;
  if (cfg.fail_every && ++everyCount % cfg.fail_every.n === 0) {
    s.send(p.response({ command_status: cfg.fail_every.status }));
    if (!cfg.quiet) out({ ev: 'answered', session: s.id, seq: p.sequence_number, status: cfg.fail_every.status });
    return;
  }
  const f = cfg.fail[0];
  if (f) {
    if (--f.count <= 0) cfg.fail.shift();
    s.send(p.response({ command_status: f.status }));
    if (!cfg.quiet) out({ ev: 'answered', session: s.id, seq: p.sequence_number, status: f.status });
    return;
  }
  const n = nextID++;
  const id = fmtID(n, cfg.id_format);
  if (cfg.count) accepted.set(p._text, (accepted.get(p._text) || 0) + 1);
  s.send(p.response({ message_id: id }));
  if (!cfg.quiet) out({ ev: 'answered', session: s.id, seq: p.sequence_number, status: 0, message_id: id });
  if (cfg.dlr && (p.registered_delivery & 1)) sendDLR(s, p, n);
}

function sendDLR(s, p, n) {
  const o = cfg.dlr;
  const id = fmtID(n, o.id || cfg.id_format);
  const stat = o.stat || 'DELIVRD';
  const fields = {
    source_addr: p.destination_addr, destination_addr: p.source_addr, esm_class: 0x04, data_coding: 0,
    short_message: Buffer.from(o.mode === 'tlv' ? '' :
      `id:${id} sub:001 dlvrd:001 submit date:2401021504 done date:240102150607 stat:${stat} err:000 text:hello`),
  };
  if (o.mode !== 'text') {
    fields.receipted_message_id = id;
    fields.message_state = o.state || 2;
  }
  // Like a real SMSC, a receipt that is refused (ESME_RX_T_APPN: the ESME
  // is busy) or never answered (the connection went away) is delivered
  // again, on whichever bind can take it.
  const again = (ms) => setTimeout(() => sendDLR(null, p, n), ms);
  const target = pick(s && s.id, true) || s;
  if (!target || target.socket.destroyed) { again(200); return; }
  let answered = false;
  const timer = setTimeout(() => { if (!answered) again(0); }, 3000);
  target.send(new smpp.PDU('deliver_sm', fields), (r) => {
    answered = true;
    clearTimeout(timer);
    if (!cfg.quiet) out({ ev: 'response', tag: 'dlr', command: r.command, status: r.command_status, seq: r.sequence_number, id });
    if (r.command_status !== 0 && cfg.dlr_retry !== false) again(100);
  });
}

// The session to send to: the one named, else the newest that can receive.
function pick(id, receiver) {
  if (id && sessions.has(id)) return sessions.get(id);
  let best;
  for (const s of sessions.values()) if (!receiver || s.bind !== 'bind_transmitter') best = s;
  return best;
}

function bufferize(fields, hexFields) {
  const f = Object.assign({}, fields || {});
  for (const [k, v] of Object.entries(hexFields || {})) f[k] = Buffer.from(v, 'hex');
  return f;
}

const server = smpp.createServer((s) => {
  s.id = nextSession++;
  s.outstanding = 0;
  s.maxOutstanding = 0;
  sessions.set(s.id, s);
  for (const cmd of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) {
    s.on(cmd, (p) => {
      const ok = p.system_id === cfg.system_id && p.password === cfg.password;
      s.bind = cmd;
      s.send(p.response(ok ? { system_id: 'nodesmsc' } : { command_status: smpp.ESME_RBINDFAIL }));
      out({ ev: 'bind', session: s.id, command: cmd, ok, system_id: p.system_id, interface_version: p.interface_version });
    });
  }
  s.on('submit_sm', (p) => {
    submits++;
    s.outstanding++;
    s.maxOutstanding = Math.max(s.maxOutstanding, s.outstanding);
    const d = describe(p);
    p._text = d.text;
    if (!cfg.quiet) {
      out(Object.assign({ ev: 'submit_sm', session: s.id, seq: p.sequence_number, outstanding: s.outstanding }, d));
      reassemble(d);
    }
    if (dropCountdown > 0 && --dropCountdown === 0) {
      out({ ev: 'dropping', session: s.id, seq: p.sequence_number });
      if (cfg.count) droppedUnanswered.push(p._text);
      s.socket.destroy();
      return;
    }
    if (cfg.ignore > 0) { cfg.ignore--; out({ ev: 'ignored', session: s.id, seq: p.sequence_number }); return; }
    if (cfg.collide) {
      const c = cfg.collide;
      cfg.collide = null;
      const dpdu = new smpp.PDU('deliver_sm', Object.assign(bufferize(c.fields, c.hex), { sequence_number: p.sequence_number }));
      s.send(dpdu, (r) => {
        out({ ev: 'response', tag: 'collide', command: r.command, status: r.command_status, seq: r.sequence_number });
        answer(s, p);
      });
      return;
    }
    if (cfg.withhold) { held.push(() => answer(s, p)); return; }
    if (cfg.delay > 0) { cfg.delay--; setTimeout(() => answer(s, p), cfg.delay_ms); return; }
    answer(s, p);
  });
  s.on('enquire_link', (p) => {
    if (cfg.answer_enquire) s.send(p.response());
    if (!cfg.quiet) out({ ev: 'enquire_link', session: s.id, seq: p.sequence_number, answered: cfg.answer_enquire });
  });
  s.on('unbind', (p) => {
    s.send(p.response());
    out({ ev: 'unbind', session: s.id });
    s.close();
  });
  s.on('pdu', (p) => {
    if (p.isResponse()) out({ ev: 'pdu', session: s.id, command: p.command, status: p.command_status, seq: p.sequence_number });
  });
  s.on('close', () => {
    sessions.delete(s.id);
    out({ ev: 'close', session: s.id });
  });
  s.on('error', (e) => out({ ev: 'error', session: s.id, message: String(e && e.message) }));
});

function command(c) {
  const s = pick(c.session, c.receiver !== false);
  switch (c.cmd) {
    case 'set':
      for (const [k, v] of Object.entries(c)) if (k !== 'cmd' && k !== 'tag') cfg[k] = v;
      if (c.drop_after !== undefined) dropCountdown = c.drop_after;
      if (c.fail_every !== undefined) everyCount = 0;
      break;
    case 'release':
      cfg.withhold = false;
      while (held.length) held.shift()();
      break;
    case 'send': {
      if (!s) { out({ ev: 'error', tag: c.tag, message: 'no session' }); return; }
      const f = bufferize(c.fields, c.hex);
      if (c.seq) f.sequence_number = c.seq;
      s.send(new smpp.PDU(c.command, f), (r) => out({ ev: 'response', tag: c.tag, command: r.command, status: r.command_status, seq: r.sequence_number }));
      break;
    }
    case 'raw':
      if (!s) { out({ ev: 'error', tag: c.tag, message: 'no session' }); return; }
      s.socket.write(Buffer.from(c.hex, 'hex'));
      break;
    case 'enquire_link':
      s.enquire_link({}, (r) => out({ ev: 'response', tag: c.tag, command: r.command, status: r.command_status }));
      break;
    case 'unbind':
      s.unbind({}, (r) => { out({ ev: 'response', tag: c.tag, command: r.command, status: r.command_status }); s.close(); });
      break;
    case 'close': // every connection, or the one named by session
      for (const x of sessions.values()) if (!c.session || x.id === c.session) x.socket.destroy();
      break;
    case 'counts': { // what cfg.count saw: messages accepted more than once, and those lost in a drop
      let total = 0;
      const dups = [];
      for (const [text, n] of accepted) { total += n; if (n > 1) dups.push({ text, n }); }
      out({ ev: 'counts', tag: c.tag, total, distinct: accepted.size, dups, dropped: droppedUnanswered });
      break;
    }
    case 'stats': {
      let max = 0;
      for (const x of sessions.values()) max = Math.max(max, x.maxOutstanding);
      out({ ev: 'stats', tag: c.tag, submits, outstanding: outstanding(), held: held.length, max_outstanding: max, sessions: sessions.size });
      break;
    }
    default:
      out({ ev: 'error', tag: c.tag, message: 'unknown command ' + c.cmd });
  }
  if (c.tag && c.cmd !== 'stats' && c.cmd !== 'counts') out({ ev: 'done', tag: c.tag });
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  try { command(JSON.parse(line)); } catch (e) { out({ ev: 'error', message: String(e && e.stack) }); }
}).on('close', () => process.exit(0));

server.listen(0, '127.0.0.1', () => out({ ev: 'listening', port: server.address().port }));
