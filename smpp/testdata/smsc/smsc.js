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
//
// As a USSDC under load ({"cmd":"ussd_load",...}, see ussdLoad) it runs
// multi-step dialogues (spec profile: open 0x01, reply 0x12, its_session_info)
// and sends each deliver_sm to a receiving bind that has not unbound,
// taking turns, as an SMSC does with the binds of one system_id; a screen
// is matched to its dialogue by destination and session number, whatever
// bind it comes on. An ESME's unbind is confirmed once the deliver_sm sent
// on that bind before it are answered (up to 5 s).

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
let nextID = 0x1F0000;   // ids whose hex and decimal forms differ; {"cmd":"set","next_id":N} sets it
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

// ---- USSD load ----------------------------------------------------------
// {"cmd":"ussd_load","concurrency":16,"code":"*777#","dest":"777","inputs":["1","2","3"],
//  "expect":["Welcome",...],"base":254733000000,"timeout_ms":5000}
// runs dialogues until {"cmd":"ussd_load_stop"}; those under way are played
// to their end, then {"ev":"ussd_load","ok":N,"failed":M,"reasons":{...},"examples":[...]}.
let load = null;
let rrLoad = 0;

function loadBind() {
  const cands = [];
  for (const x of sessions.values()) {
    if (x.bind && x.bind !== 'bind_transmitter' && !x.unbinding) cands.push(x);
  }
  if (!cands.length) return undefined;
  cands.sort((a, b) => a.id - b.id);
  return cands[rrLoad++ % cands.length];
}

function ussdLoad(c) {
  load = { c, ok: 0, failed: 0, reasons: {}, examples: [], running: 0, dialogues: new Map(), stopping: false, nextKey: 0 };
  for (let w = 0; w < c.concurrency; w++) loadWorker(load, w, 0);
}

// loadWorker starts worker w's next dialogue of run L, or reports the run
// when it is stopping and this was its last dialogue.
function loadWorker(L, w, n) {
  if (L.stopping) {
    if (L.running === 0 && !L.reported) {
      L.reported = true;
      out({ ev: 'ussd_load', ok: L.ok, failed: L.failed, reasons: L.reasons, examples: L.examples });
      if (load === L) load = null;
    }
    return;
  }
  L.running++;
  const msisdn = String(L.c.base + w * 10000 + (n % 10000));
  const key = (L.nextKey++ % 255) + 1;
  const dlg = { L, msisdn, key, step: 0, w, n, done: false, timer: null };
  L.dialogues.set(msisdn + '|' + key, dlg);
  loadSend(dlg, 0x01, L.c.code);
}

function loadEnd(dlg, err, detail) {
  const L = dlg.L;
  if (dlg.done) return;
  dlg.done = true;
  clearTimeout(dlg.timer);
  L.dialogues.delete(dlg.msisdn + '|' + dlg.key);
  if (err) {
    L.failed++;
    L.reasons[err] = (L.reasons[err] || 0) + 1;
    if (L.examples.length < 10) L.examples.push(dlg.msisdn + ' step ' + (dlg.step + 1) + ': ' + err + (detail ? ' ' + detail : ''));
  } else {
    L.ok++;
  }
  L.running--;
  setImmediate(() => loadWorker(L, dlg.w, dlg.n + 1));
}

function loadSend(dlg, op, text) {
  const L = dlg.L;
  const s = loadBind();
  if (!s) { loadEnd(dlg, 'no receiving bind'); return; }
  const fields = {
    service_type: 'USSD', source_addr_ton: 1, source_addr_npi: 1, source_addr: dlg.msisdn,
    destination_addr: L.c.dest, data_coding: 0x0F, ussd_service_op: op,
    short_message: Buffer.from(text), its_session_info: Buffer.from([dlg.key, 0x02]),
  };
  // Until its response, a deliver_sm fails with the bind.
  const lost = () => loadEnd(dlg, 'bind closed before deliver_sm_resp');
  s.lost = s.lost || new Set();
  s.lost.add(lost);
  s.pendingDeliver++;
  s.send(new smpp.PDU('deliver_sm', fields), (r) => {
    if (!s.lost.delete(lost)) return;
    s.pendingDeliver--;
    if (r.command_status !== 0) loadEnd(dlg, 'deliver_sm answered 0x' + r.command_status.toString(16));
  });
  clearTimeout(dlg.timer);
  dlg.timer = setTimeout(() => loadEnd(dlg, 'no screen within ' + L.c.timeout_ms + 'ms'), L.c.timeout_ms);
}

function loadScreen(d) {
  const L = load;
  const its = d.its_session_info ? Buffer.from(d.its_session_info, 'hex') : null;
  if (!its) return;
  const dlg = L.dialogues.get(d.dst + '|' + its[0]);
  if (!dlg || dlg.done) return;
  const end = d.ussd_service_op === 0x11;
  const last = dlg.step === L.c.inputs.length;
  if (!String(d.text || '').includes(L.c.expect[dlg.step]) || end !== last) {
    loadEnd(dlg, 'wrong screen', (end ? 'END ' : 'CON ') + JSON.stringify(String(d.text || '').slice(0, 60)));
    return;
  }
  if (last) { loadEnd(dlg); return; }
  dlg.step++;
  const input = L.c.inputs[dlg.step - 1];
  setImmediate(() => { if (!dlg.done) loadSend(dlg, 0x12, input); });
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
    if (load && d.ussd_service_op !== undefined) loadScreen(d);
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
  s.pendingDeliver = 0;
  s.on('unbind', (p) => {
    s.unbinding = true;
    out({ ev: 'unbind', session: s.id });
    const t0 = Date.now();
    const confirm = () => {
      if (s.pendingDeliver > 0 && Date.now() - t0 < 5000) { setTimeout(confirm, 2); return; }
      s.send(p.response());
      s.close();
    };
    confirm();
  });
  s.on('pdu', (p) => {
    if (p.isResponse()) out({ ev: 'pdu', session: s.id, command: p.command, status: p.command_status, seq: p.sequence_number });
  });
  s.on('close', () => {
    if (s.lost) { for (const f of s.lost) f(); s.lost.clear(); s.pendingDeliver = 0; }
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
      if (c.next_id !== undefined) nextID = c.next_id; // e.g. 1: ids 1, 2, 3 … as many SMSCs give
      break;
    case 'release':
      cfg.withhold = false;
      while (held.length) held.shift()();
      break;
    case 'send': {
      if (!s) { out({ ev: 'error', tag: c.tag, message: 'no session' }); break; }
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
    case 'ussd_load':
      ussdLoad(c);
      break;
    case 'ussd_load_stop':
      if (load) load.stopping = true;
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
      let receivers = 0;
      for (const x of sessions.values()) if (x.bind && x.bind !== 'bind_transmitter' && !x.unbinding) receivers++;
      out({ ev: 'stats', tag: c.tag, submits, outstanding: outstanding(), held: held.length, max_outstanding: max, sessions: sessions.size, receivers });
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
