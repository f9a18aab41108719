package outbox

import "github.com/redis/go-redis/v9"

// The Lua scripts. Each runs atomically, which is what makes an Enqueue
// all-or-nothing and a state change and its counters one step. Keys a
// script derives from a prefix argument (a group's counters) share the
// queue's hash tag, so they are in the same Cluster slot as the declared
// ones.
//
// A status hash (m:<id>) has the fields: to (MSISDN), sv
// (service), kd (kind), pr ("h" or "b"), gr (group), na (NotAfter, unix
// ms, 0 = none), st (state), rs (reason), at (sends tried), up (updated,
// unix ms), sd (set while a send may be under way: unix ms of the take),
// cd (the day the message was counted against the daily cap). The text
// is a string of its own (t:<id>), dropped once the message is done (a
// dead letter keeps it): a hash with a value over 64 bytes leaves Redis's
// compact listpack encoding and costs about three times the memory.
// Delayed members are the priority letter and the id ("h0a1b..."); the
// dead-letter ZSET holds ids scored by the time they died. A stream entry
// holds the id (i); a Bulk one written by Enqueue also the number (t) and
// service (s), so that the consent check and quiet hours are known before
// the take, which then counts the daily cap (entries moved back from the
// delayed set have the id only, and are checked by capScript).

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
for i = 1, n do
  if dup[i] == 0 then
    local k, a = 3 + (i-1)*4, 4 + (i-1)*10
    local mk, id, pri, grp, nb = KEYS[k+1], ARGV[a+1], ARGV[a+6], ARGV[a+7], tonumber(ARGV[a+8])
    redis.call('HSET', mk, 'to', ARGV[a+2], 'sv', ARGV[a+4], 'kd', ARGV[a+5], 'pr', pri,
      'gr', grp, 'na', ARGV[a+9], 'st', 'queued', 'at', 0, 'up', now)
    redis.call('EXPIRE', mk, ttl)
    redis.call('SET', KEYS[k+4], ARGV[a+3], 'EX', ttl)
    if grp ~= '' then
      redis.call('HINCRBY', KEYS[k+3], 'total', 1)
      redis.call('HINCRBY', KEYS[k+3], 'queued', 1)
      redis.call('EXPIRE', KEYS[k+3], ttl)
    end
    if ARGV[a+10] == '1' then
      redis.call('INCR', KEYS[k+2])
      redis.call('EXPIRE', KEYS[k+2], 7200)
    end
    if nb > now then
      redis.call('ZADD', KEYS[3], nb, pri .. id)
    else
      local s = KEYS[1]
      if pri == 'b' then s = KEYS[2] end
      if pri == 'b' then
        redis.call('XADD', s, '*', 'i', id, 't', ARGV[a+2], 's', ARGV[a+4])
      else
        redis.call('XADD', s, '*', 'i', id)
      end
    end
  end
end
return dup
`)

// takeScript loads a message read from a stream and, unless it is done
// already, marks it "sending" before the send. A mark that is already
// there means an earlier taker may have sent it: counted in the stats as
// resent and told to the caller.
//
// Given a day, it also counts a Bulk message that is neither cancelled nor
// expired against its number's daily caps, as capScript does (once per
// message and day), in the same step: the caller gives a day only for a
// message it is about to send (consent given, not quiet hours), and a
// Bulk message then costs one script before its send, not two. "cap" in
// the answer is 1 when it may go, 0 when a cap is reached (nothing
// counted).
//
// KEYS: status, stats, text. ARGV: now ms, group key prefix, day ("": no
// count), cap (0: none), service cap (0: none), day counter key prefix,
// counter ttl s.
var takeScript = redis.NewScript(`
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return false end
local tx = redis.call('GET', KEYS[3])
if tx then h[#h+1] = 'tx'; h[#h+1] = tx end
local f = {}
for i = 1, #h, 2 do f[h[i]] = h[i+1] end
local st = f['st']
if st ~= 'queued' and st ~= 'deferred' then return h end
if f['sd'] then
  redis.call('HINCRBY', KEYS[2], 'resent', 1)
  h[#h+1] = 'resent'; h[#h+1] = '1'
end
redis.call('HSET', KEYS[1], 'sd', ARGV[1])
local gr = f['gr']
if gr and gr ~= '' and redis.call('HGET', ARGV[2] .. gr, 'stopped') then
  h[#h+1] = 'stopped'; h[#h+1] = '1'
  return h
end
local day, na = ARGV[3], tonumber(f['na'] or '0')
if day == '' or f['pr'] ~= 'b' or (na > 0 and tonumber(ARGV[1]) > na) then return h end
local ok = '1'
local caps = {tonumber(ARGV[4]), tonumber(ARGV[5])}
if f['cd'] ~= day and (caps[1] > 0 or caps[2] > 0) then
  local ck = {ARGV[6] .. f['to'] .. ':' .. day, ARGV[6] .. f['to'] .. ':' .. day .. ':' .. (f['sv'] or '')}
  for i = 1, 2 do
    if caps[i] > 0 and tonumber(redis.call('GET', ck[i]) or '0') >= caps[i] then ok = '0' end
  end
  if ok == '1' then
    for i = 1, 2 do
      if caps[i] > 0 and redis.call('INCR', ck[i]) == 1 then redis.call('EXPIRE', ck[i], ARGV[7]) end
    end
    redis.call('HSET', KEYS[1], 'cd', day)
  end
end
h[#h+1] = 'cap'; h[#h+1] = ok
return h
`)

// finishScript records what became of a message and acknowledges its
// stream entry in the same step, so an entry is never acknowledged
// without its result, and the group counters move with the state. A
// worker's result applies to a waiting message only; a receipt applies to
// a waiting one (it may come before the worker recorded the send) or a
// sent one. A later, stale result changes nothing.
//
// KEYS: status, stream, delayed, dead, text. ARGV: entry id or "", consumer
// group, new state, reason, now ms, due ms (queued/deferred), delayed
// member, attempts to add, dead-letter (1/0), receipt (1/0), group key
// prefix, ttl ms.
var finishScript = redis.NewScript(`
if ARGV[1] ~= '' then
  redis.call('XACK', KEYS[2], ARGV[2], ARGV[1])
  redis.call('XDEL', KEYS[2], ARGV[1])
end
local to = ARGV[3]
if to == '' then return 0 end
local old = redis.call('HGET', KEYS[1], 'st')
if not old then return 0 end
local waiting = old == 'queued' or old == 'deferred'
if not (waiting or (ARGV[10] == '1' and old == 'sent')) then return 0 end
redis.call('HSET', KEYS[1], 'st', to, 'rs', ARGV[4], 'up', ARGV[5])
redis.call('HDEL', KEYS[1], 'sd')
if ARGV[8] ~= '0' then redis.call('HINCRBY', KEYS[1], 'at', ARGV[8]) end
if to == 'queued' or to == 'deferred' then
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[7])
  return 1
end
if ARGV[9] == '1' then
  redis.call('ZADD', KEYS[4], ARGV[5], string.sub(ARGV[7], 2))
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', tonumber(ARGV[5]) - tonumber(ARGV[12]))
else
  redis.call('DEL', KEYS[5])
end
local g = redis.call('HGET', KEYS[1], 'gr')
if g and g ~= '' then
  local gk = ARGV[11] .. g
  if waiting then
    redis.call('HINCRBY', gk, 'queued', -1)
    if ARGV[10] == '1' then redis.call('HINCRBY', gk, 'sent', 1) end
  end
  redis.call('HINCRBY', gk, to, 1)
end
return 1
`)

// moveScript moves the delayed messages that are due back into their
// streams. KEYS: delayed, high, bulk. ARGV: now ms, max.
var moveScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  local s = KEYS[2]
  if string.sub(m, 1, 1) == 'b' then s = KEYS[3] end
  redis.call('XADD', s, '*', 'i', string.sub(m, 2))
  redis.call('ZREM', KEYS[1], m)
end
return #due
`)

// capScript counts a Bulk message against its number's daily caps, once
// per message and day: the number's cap across services and its cap for
// the message's service. 1 when it may go, 0 when a cap is reached (and
// nothing is counted).
// KEYS: status, number's counter, number+service counter.
// ARGV: day, cap (0: none), service cap (0: none), counter ttl s.
var capScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'cd') == ARGV[1] then return 1 end
local caps = {tonumber(ARGV[2]), tonumber(ARGV[3])}
for i = 1, 2 do
  if caps[i] > 0 and tonumber(redis.call('GET', KEYS[i+1]) or '0') >= caps[i] then return 0 end
end
for i = 1, 2 do
  if caps[i] > 0 and redis.call('INCR', KEYS[i+1]) == 1 then redis.call('EXPIRE', KEYS[i+1], ARGV[4]) end
end
redis.call('HSET', KEYS[1], 'cd', ARGV[1])
return 1
`)
