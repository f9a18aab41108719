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
// dead-letter ZSET holds ids scored by the time they died.

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
      redis.call('XADD', s, '*', 'i', id)
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
// KEYS: status, stats, text. ARGV: now ms, group key prefix.
var takeScript = redis.NewScript(`
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return false end
local tx = redis.call('GET', KEYS[3])
if tx then h[#h+1] = 'tx'; h[#h+1] = tx end
local st, sd, gr
for i = 1, #h, 2 do
  local f = h[i]
  if f == 'st' then st = h[i+1] elseif f == 'sd' then sd = h[i+1] elseif f == 'gr' then gr = h[i+1] end
end
if st == 'queued' or st == 'deferred' then
  if sd then
    redis.call('HINCRBY', KEYS[2], 'resent', 1)
    h[#h+1] = 'resent'; h[#h+1] = '1'
  end
  redis.call('HSET', KEYS[1], 'sd', ARGV[1])
  if gr and gr ~= '' and redis.call('HGET', ARGV[2] .. gr, 'stopped') then
    h[#h+1] = 'stopped'; h[#h+1] = '1'
  end
end
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

// capScript counts a Bulk message against its number's daily cap, once
// per message and day: 1 when it may go, 0 when the cap is reached.
// KEYS: status, cap counter. ARGV: day, cap, counter ttl s.
var capScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'cd') == ARGV[1] then return 1 end
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
if n > tonumber(ARGV[2]) then
  redis.call('DECR', KEYS[2])
  return 0
end
redis.call('HSET', KEYS[1], 'cd', ARGV[1])
return 1
`)
