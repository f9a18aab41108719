package outbox

import "github.com/redis/go-redis/v9"

// The Lua scripts. Each runs atomically, which is what makes an Enqueue
// all-or-nothing and a state change and its counters one step. Keys a
// script derives from a prefix argument (a group's counters, a moved
// message's record) share the queue's hash tag, so they are in the same
// Cluster slot as the declared ones.
//
// The scripts that take and finish messages do a whole batch in one call
// (a read of the streams, a batch of results or of receipts): Redis's one
// thread is what sets the pace of a broadcast, and a call per message
// cost it more than the work inside the call. For the same reason a batch
// updates each group's counters once (HINCRBY by the batch's count), sets
// the TTL of the day's cap counters once, and looks once per group at
// whether it was cancelled. README.md in cmd/loadtest/push has the
// commands per message before and after.
//
// A status hash (m:<id>) has the fields: to (MSISDN), sv
// (service), kd (kind), pr ("h" or "b"), gr (group), na (NotAfter, unix
// ms, 0 = none), st (state), rs (reason), at (sends tried), up (updated,
// unix ms), sd (set while a send may be under way: unix ms of the take;
// it means something only while st is queued or deferred), cd (the day
// the message was counted against the daily cap).
//
// The text travels in the stream entry (field x), which is deleted once
// the message is done: a message waiting in a stream costs no key of its
// own but its status hash. While a message waits in the delayed set
// (NotBefore, a retry, quiet hours) or is dead-lettered, its text is a
// string of its own (t:<id>); moveScript puts it back into the entry. (A
// hash with a value over 64 bytes would leave Redis's compact listpack
// encoding and cost about three times the memory, hence not a field.)
// Delayed members are the priority letter and the id ("h0a1b..."); the
// dead-letter ZSET holds ids scored by the time they died. A stream entry
// holds the id (i) and the text (x); a Bulk one also the number (t) and
// service (s), so that the consent check and quiet hours are known before
// the take, which then counts the daily cap (entries without them, left
// by an older version, are checked by capScript).
//
// The streams of this layout are q:high and q:bulk. Those of the layout
// before it (s:high and s:bulk, where the text was only in t:<id>) are
// still read and their entries taken the old way, so that in a rolling
// upgrade nothing an older instance queued is stranded, and nothing queued
// here reaches an older instance, which would send it without its text.
// An older instance's moveScript writes due messages to the old streams
// with their text still in t:<id>: read the same way.
//
// The daily caps count in one hash per day (cap:d:<day>), a field per
// number and one per number and service, so that a day's first message
// to a number costs an HINCRBY, not a counter key with a TTL of its own.

// enqueueScript persists a batch: first it checks every message (an id
// already known is a duplicate; the hourly cap of each number, counting
// the batch itself), then it writes all of them. On a cap it returns an
// error before writing anything.
//
// KEYS: high, bulk, delayed, then per message: status, hourly cap, group,
// text.
// ARGV: now ms, ttl s, hourly cap, n, then per message: id, to, text,
// service, kind, pri, group, notBefore ms, notAfter ms, capped (1/0).
var enqueueScript = redis.NewScript(`
local now, ttl, cap, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local dup, seen, counts = {}, {}, {}
for i = 1, n do
  local k, a = 3 + (i-1)*4, 4 + (i-1)*10
  local mk = KEYS[k+1]
  if seen[mk] or redis.call('EXISTS', mk) == 1 then
    dup[i] = 1
  else
    seen[mk] = true
    dup[i] = 0
    if ARGV[a+10] == '1' then
      local ck = KEYS[k+2]
      local c = counts[ck]
      if c == nil then c = tonumber(redis.call('GET', ck) or '0') end
      c = c + 1
      if c > cap then return redis.error_reply('CAPPED ' .. i) end
      counts[ck] = c
    end
  end
end
local groups, capped = {}, {}
for i = 1, n do
  if dup[i] == 0 then
    local k, a = 3 + (i-1)*4, 4 + (i-1)*10
    local mk, id, pri, grp, nb = KEYS[k+1], ARGV[a+1], ARGV[a+6], ARGV[a+7], tonumber(ARGV[a+8])
    redis.call('HSET', mk, 'to', ARGV[a+2], 'sv', ARGV[a+4], 'kd', ARGV[a+5], 'pr', pri,
      'gr', grp, 'na', ARGV[a+9], 'st', 'queued', 'at', 0, 'up', now)
    redis.call('EXPIRE', mk, ttl)
    if grp ~= '' then groups[KEYS[k+3]] = (groups[KEYS[k+3]] or 0) + 1 end
    if ARGV[a+10] == '1' then capped[KEYS[k+2]] = (capped[KEYS[k+2]] or 0) + 1 end
    if nb > now then
      redis.call('SET', KEYS[k+4], ARGV[a+3], 'EX', ttl)
      redis.call('ZADD', KEYS[3], nb, pri .. id)
    elseif pri == 'b' then
      redis.call('XADD', KEYS[2], '*', 'i', id, 't', ARGV[a+2], 's', ARGV[a+4], 'x', ARGV[a+3])
    else
      redis.call('XADD', KEYS[1], '*', 'i', id, 'x', ARGV[a+3])
    end
  end
end
for gk, c in pairs(groups) do
  redis.call('HINCRBY', gk, 'total', c)
  redis.call('HINCRBY', gk, 'queued', c)
  redis.call('EXPIRE', gk, ttl)
end
for ck, c in pairs(capped) do
  redis.call('INCRBY', ck, c)
  redis.call('EXPIRE', ck, 7200)
end
return dup
`)

// takeScript loads the messages of one read from the streams and marks
// those still waiting "sending" before they are sent. A mark that is
// already there means an earlier taker may have sent it: counted in the
// stats as resent and told to the caller. It answers, per message, 0 when
// its record is gone, else its status hash as field/value pairs with
// these added: tx and tk=1 (the text, read from t:<id> when asked:
// the entry had none), resent=1, stopped=1 (its group was cancelled) and
// cap (asked to count it: 1 when it may go, 0 when a cap is reached and
// nothing was counted).
//
// The caller asks for the daily caps to be counted only for a Bulk
// message it is about to send (consent given, not quiet hours); one that
// is cancelled or expired is not counted, and a message counts once per
// day (cd).
//
// KEYS: stats, the day's cap counters, then per message: status, text.
// ARGV: now ms, group key prefix, day, cap (0: none), counter ttl s, n,
// then per message: need text (1/0), count (1/0), service cap (0: none).
var takeScript = redis.NewScript(`
local now, gp, day, cap, cttl, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local out, stopped, counted = {}, {}, false
for i = 1, n do
  local k, a = 2 + (i-1)*2, 6 + (i-1)*3
  local h = redis.call('HGETALL', KEYS[k+1])
  if #h == 0 then
    out[i] = 0
  else
    local f = {}
    for j = 1, #h, 2 do f[h[j]] = h[j+1] end
    local st = f['st']
    if st == 'queued' or st == 'deferred' then
      if ARGV[a+1] == '1' then
        local tx = redis.call('GET', KEYS[k+2])
        if tx then h[#h+1] = 'tx'; h[#h+1] = tx; h[#h+1] = 'tk'; h[#h+1] = '1' end
      end
      if f['sd'] then
        redis.call('HINCRBY', KEYS[1], 'resent', 1)
        h[#h+1] = 'resent'; h[#h+1] = '1'
      end
      local set = {'sd', now}
      local gr, stop = f['gr'], false
      if gr and gr ~= '' then
        stop = stopped[gr]
        if stop == nil then
          stop = redis.call('HEXISTS', gp .. gr, 'stopped') == 1
          stopped[gr] = stop
        end
      end
      local na = tonumber(f['na'] or '0')
      if stop then
        h[#h+1] = 'stopped'; h[#h+1] = '1'
      elseif ARGV[a+2] == '1' and f['pr'] == 'b' and not (na > 0 and tonumber(now) > na) then
        local ok, svcap = '1', tonumber(ARGV[a+3])
        if f['cd'] ~= day and (cap > 0 or svcap > 0) then
          local fields, caps, done = {f['to'], f['to'] .. ':' .. (f['sv'] or '')}, {cap, svcap}, {}
          for j = 1, 2 do
            if caps[j] > 0 then
              done[#done+1] = fields[j]
              if redis.call('HINCRBY', KEYS[2], fields[j], 1) > caps[j] then ok = '0' end
            end
          end
          if ok == '0' then
            for _, fl in ipairs(done) do redis.call('HINCRBY', KEYS[2], fl, -1) end
          else
            set[#set+1] = 'cd'; set[#set+1] = day
            counted = true
          end
        end
        h[#h+1] = 'cap'; h[#h+1] = ok
      end
      redis.call('HSET', KEYS[k+1], unpack(set))
    end
    out[i] = h
  end
end
if counted then redis.call('EXPIRE', KEYS[2], cttl) end
return out
`)

// finishScript records what became of a batch of messages and
// acknowledges their stream entries in the same step, so an entry is
// never acknowledged without its result, and the group counters move
// with the states. A worker's result applies to a waiting message only; a
// receipt applies to a waiting one (it may come before the worker
// recorded the send) or a sent one. A later, stale result changes
// nothing. It answers, per result, 1 when it was applied, else 0, and -1
// for a receipt by SMSC id that names no message (yet).
//
// Receipts by SMSC id: a worker's "sent" result with the SMSC's ids of
// the message's parts (an IDSender's answer) keeps a key per id (x:<sid>:
// the message's id, and the number of parts when more than one) for the
// receipts to find the message by; a receipt that names no SMSC id known
// yet is kept (o:<sid>, its first candidate id: the state and reason) and
// applied by the "sent" result that brings the id. Both happen in this
// one script, so neither order loses the receipt. A message of several
// parts is delivered when every part's receipt said so (d:<sid> fields
// and pd, the count, on its status hash), failed by the first that did
// not.
//
// KEYS: delayed, dead, the streams (high, bulk, legacy high, legacy
// bulk), then per result: status, text (for a receipt by SMSC id, any
// key: the status and text keys are found from the id).
// ARGV: consumer group, group key prefix, now ms, dead-letter ttl ms,
// text ttl s, n, status key prefix, text key prefix, SMSC id key prefix,
// early receipt key prefix, SMSC id ttl s, early receipt ttl s, then per
// result: stream (1-4
// in the order of KEYS, 0 none), entry id, new state ("": acknowledge
// only), reason, due ms (queued/deferred), delayed member, attempts to
// add, dead-letter (1/0), receipt (1/0), text to keep (for a retry or a
// dead letter; "": none), text key to drop (1/0), SMSC ids separated by
// NUL bytes, which no id holds ("": none): of the message's parts for a
// "sent" result; for a receipt, it is by SMSC id, and these are the forms
// of its id to try.
var finishScript = redis.NewScript(`
local grp, gp, now, dttl, ttl, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local mp, tp, sp, op, sttl, ottl = ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local acks, counts, out, died = {{}, {}, {}, {}}, {}, {}, false
local function count(gk, f, d)
  local c = counts[gk]
  if c == nil then c = {}; counts[gk] = c end
  c[f] = (c[f] or 0) + d
end
-- apply moves one message to state to; 1 when it did.
local function apply(sk, tk, to, reason, due, member, attempts, dead, receipt, text, drop)
  local f = redis.call('HMGET', sk, 'st', 'gr', 'at')
  local old, final = f[1], to ~= 'queued' and to ~= 'deferred'
  if not old then return 0 end
  local waiting = old == 'queued' or old == 'deferred'
  if waiting or (receipt and old == 'sent') then
    redis.call('HSET', sk, 'st', to, 'rs', reason, 'up', now, 'at', tonumber(f[3] or '0') + attempts)
    if not final then
      redis.call('HDEL', sk, 'sd')
      redis.call('ZADD', KEYS[1], due, member)
      if text ~= '' then redis.call('SET', tk, text, 'EX', ttl) end
    else
      if dead then
        redis.call('ZADD', KEYS[2], now, string.sub(member, 2))
        died = true
        if text ~= '' then redis.call('SET', tk, text, 'EX', ttl) end
      elseif drop then
        redis.call('DEL', tk)
      end
      local g = f[2]
      if g and g ~= '' then
        local gk = gp .. g
        if waiting then
          count(gk, 'queued', -1)
          if receipt then count(gk, 'sent', 1) end
        end
        count(gk, to, 1)
      end
    end
    return 1
  elseif final and drop and not dead then
    redis.call('DEL', tk)
  end
  return 0
end
-- part applies a receipt for SMSC id sid to the message whose x:<sid> is
-- m ("<id>" or, for a message of several parts, "<id> <parts>"): a
-- message of several parts is delivered once each part is, and failed by
-- the first part that failed.
local function part(m, sid, to, reason)
  local id, np = string.match(m, '^(%S+) ?(%d*)$')
  local sk = mp .. id
  if np ~= '' and to == 'delivered' then
    if redis.call('HSETNX', sk, 'd:' .. sid, 1) == 0 then return 0 end
    if redis.call('HINCRBY', sk, 'pd', 1) < tonumber(np) then return 1 end
  end
  return apply(sk, tp .. id, to, reason, 0, '', 0, false, true, '', false)
end
for i = 1, n do
  local k, a = 6 + (i-1)*2, 12 + (i-1)*12
  local s = tonumber(ARGV[a+1])
  if s > 0 then local l = acks[s]; l[#l+1] = ARGV[a+2] end
  local to, r, receipt, sids = ARGV[a+3], 0, ARGV[a+9] == '1', ARGV[a+12]
  if to ~= '' and receipt and sids ~= '' then
    r = -1
    local first
    for sid in string.gmatch(sids, '[^%z]+') do
      first = first or sid
      local m = redis.call('GET', sp .. sid)
      if m then
        r = part(m, sid, to, ARGV[a+4])
        break
      end
    end
    if r == -1 then redis.call('SET', op .. first, to .. ' ' .. ARGV[a+4], 'EX', ottl) end
  elseif to ~= '' then
    local drop = ARGV[a+11] == '1'
    r = apply(KEYS[k+1], KEYS[k+2], to, ARGV[a+4], ARGV[a+5], ARGV[a+6], tonumber(ARGV[a+7]),
      ARGV[a+8] == '1', receipt, ARGV[a+10], drop)
    if to == 'sent' and sids ~= '' then
      local list = {}
      for sid in string.gmatch(sids, '[^%z]+') do list[#list+1] = sid end
      local m = string.sub(ARGV[a+6], 2)
      if #list > 1 then m = m .. ' ' .. #list end
      for _, sid in ipairs(list) do redis.call('SET', sp .. sid, m, 'EX', sttl) end
      for _, sid in ipairs(list) do
        local early = redis.call('GETDEL', op .. sid)
        if early then
          local st, reason = string.match(early, '^(%S+) ?(.*)$')
          part(m, sid, st, reason)
        end
      end
    end
  end
  out[i] = r
end
for s = 1, 4 do
  local l = acks[s]
  if #l > 0 then
    redis.call('XACK', KEYS[2+s], grp, unpack(l))
    redis.call('XDEL', KEYS[2+s], unpack(l))
  end
end
if died then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(now) - dttl) end
for gk, c in pairs(counts) do
  for f, d in pairs(c) do
    if d ~= 0 then redis.call('HINCRBY', gk, f, d) end
  end
end
return out
`)

// moveScript moves the delayed messages that are due back into their
// streams, with their text (dropped from t:<id>) and, for a Bulk one, its
// number and service, as Enqueue writes them.
// KEYS: delayed, high, bulk. ARGV: now ms, max, status key prefix, text
// key prefix.
var moveScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  local id = string.sub(m, 2)
  local e, s = {'i', id}, KEYS[2]
  if string.sub(m, 1, 1) == 'b' then
    s = KEYS[3]
    local f = redis.call('HMGET', ARGV[3] .. id, 'to', 'sv')
    if f[1] then e[3] = 't'; e[4] = f[1]; e[5] = 's'; e[6] = f[2] or '' end
  end
  local tx = redis.call('GET', ARGV[4] .. id)
  if tx then
    e[#e+1] = 'x'; e[#e+1] = tx
    redis.call('DEL', ARGV[4] .. id)
  end
  redis.call('XADD', s, '*', unpack(e))
  redis.call('ZREM', KEYS[1], m)
end
return #due
`)

// capScript counts a Bulk message against its number's daily caps, once
// per message and day: the number's cap across services and its cap for
// the message's service. 1 when it may go, 0 when a cap is reached (and
// nothing is counted). It is for the messages takeScript was not asked
// to count.
// KEYS: status, the day's cap counters.
// ARGV: day, cap (0: none), service cap (0: none), counter ttl s, the
// number's field, the number and service's field.
var capScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'cd') == ARGV[1] then return 1 end
local caps = {tonumber(ARGV[2]), tonumber(ARGV[3])}
local fields = {ARGV[5], ARGV[6]}
local got = redis.call('HMGET', KEYS[2], fields[1], fields[2])
for i = 1, 2 do
  if caps[i] > 0 and tonumber(got[i] or '0') >= caps[i] then return 0 end
end
for i = 1, 2 do
  if caps[i] > 0 then redis.call('HINCRBY', KEYS[2], fields[i], 1) end
end
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('HSET', KEYS[1], 'cd', ARGV[1])
return 1
`)

// resendScript puts a dead letter back in its stream, as a new message
// with no sends tried: off the dead-letter set, its text back in the
// entry, its group counting it queued instead of failed. It answers 1, or
// 0 when id is no dead letter (unknown, expired or not dead), or -1 when
// its text is gone.
// KEYS: status, dead, text, high, bulk. ARGV: id, now ms, group key
// prefix.
var resendScript = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'st', 'pr', 'gr', 'to', 'sv')
if not f[1] or not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
local tx = redis.call('GET', KEYS[3])
if not tx then return -1 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'st', 'queued', 'rs', '', 'at', 0, 'up', ARGV[2])
redis.call('HDEL', KEYS[1], 'sd')
redis.call('DEL', KEYS[3])
if f[2] == 'b' then
  redis.call('XADD', KEYS[5], '*', 'i', ARGV[1], 't', f[4] or '', 's', f[5] or '', 'x', tx)
else
  redis.call('XADD', KEYS[4], '*', 'i', ARGV[1], 'x', tx)
end
if f[3] and f[3] ~= '' then
  redis.call('HINCRBY', ARGV[3] .. f[3], f[1], -1)
  redis.call('HINCRBY', ARGV[3] .. f[3], 'queued', 1)
end
return 1
`)
