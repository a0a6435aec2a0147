/**
 * The Lua scripts of RedisSessionStore (issue 14): every fenced write is one script, so the fence
 * check and the write are one atomic step in Redis (two nodes never both own a session). Each
 * script validates everything before its first write: Redis does not roll back a script's writes
 * when it fails half way, so "all of the delta or none" (SessionStore.commit) must be checked first.
 *
 * Every session script has the same first keys and arguments (the prelude reads them):
 *   KEYS  1 session hash, 2 replay list, 3 ended:{id}, 4 ended-order, 5 ended-serial
 *   ARGV  1 now (the store's clock, ms), 2 id, 3 endedTtlMs, 4 endedMaxIds, 5 the ended key stem
 * Seqs travel as canonical decimal strings and are compared as such (no 2^53 limit).
 *
 * Expiry: the record's `exp` against ARGV now is the truth (RS-6; the store's clock may be a test's
 * simulated one); Redis PEXPIRE is set relative to it, with endedTtlMs of slack, only to collect
 * what nobody reads again.
 */
import type { Redis } from 'ioredis';

/** Script errors, the first word of the reply (the store maps each to its error class). */
export const scriptErrors = { stale: 'STALE', exists: 'EXISTS', seqOrder: 'SEQORDER', replayCap: 'REPLAYCAP' } as const;

const PRELUDE = `
local now = tonumber(ARGV[1])
local id = ARGV[2]
local ended_ttl = tonumber(ARGV[3])
local ended_max = tonumber(ARGV[4])
local ended_stem = ARGV[5]

-- SEQ-2: canonical non-negative decimals compare by length, then bytes.
local function gt(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end

local function seq_of(el)
  return string.match(el, '^(%d+):')
end

-- RS-6, RS-11: remember why the id ended, bounded in count and in time, oldest forgotten first.
-- The serial ties an order entry to one ended value: an id that ends again leaves a stale entry,
-- which forgets nothing when it is popped.
local function remember(reason)
  local serial = redis.call('INCR', KEYS[5])
  redis.call('SET', KEYS[3], reason .. '|' .. ARGV[1] .. '|' .. serial, 'PX', ended_ttl)
  redis.call('RPUSH', KEYS[4], serial .. '|' .. ARGV[1] .. '|' .. id)
  while true do
    local head = redis.call('LINDEX', KEYS[4], 0)
    if not head then break end
    local hserial, hat, hid = string.match(head, '^(%d+)|([^|]+)|(.*)$')
    if redis.call('LLEN', KEYS[4]) <= ended_max and now - tonumber(hat) < ended_ttl then break end
    redis.call('LPOP', KEYS[4])
    local ek = ended_stem .. hid
    local v = redis.call('GET', ek)
    if v and string.match(v, '|(%d+)$') == hserial then redis.call('DEL', ek) end
  end
end

-- RS-6: a record past its expiry (store clock) is gone and reads as expired. True when it was.
local function expire_if(exp)
  if exp and exp ~= '' and now >= tonumber(exp) then
    redis.call('DEL', KEYS[1], KEYS[2])
    remember('expired')
    return true
  end
  return false
end

local function expire_if_due()
  return expire_if(redis.call('HGET', KEYS[1], 'exp'))
end

-- The fence named by a write must be the current one; else the error reply to return.
local function stale(fence)
  local cur = redis.call('HGET', KEYS[1], 'fence')
  if not cur then return redis.error_reply('${scriptErrors.stale} none') end
  if cur ~= fence then return redis.error_reply('${scriptErrors.stale} ' .. cur) end
  return nil
end

-- Garbage collection only (see the module comment): the slack keeps an expired record readable
-- as 'expired' for as long as an ended reason is remembered.
local function gc()
  local exp = redis.call('HGET', KEYS[1], 'exp')
  if not exp or exp == '' then
    redis.call('PERSIST', KEYS[1])
    redis.call('PERSIST', KEYS[2])
    return
  end
  local ms = tonumber(exp) - now
  if ms < 0 then ms = 0 end
  ms = math.floor(ms + ended_ttl)
  redis.call('PEXPIRE', KEYS[1], ms)
  redis.call('PEXPIRE', KEYS[2], ms)
end

-- Append ARGV[from..to] as (seq, bytes) pairs; returns the bytes appended.
local function push(from, to)
  local batch = {}
  local added = 0
  for i = from, to, 2 do
    batch[#batch + 1] = ARGV[i] .. ':' .. ARGV[i + 1]
    added = added + #ARGV[i + 1]
    if #batch == 512 then
      redis.call('RPUSH', KEYS[2], unpack(batch))
      batch = {}
    end
  end
  if #batch > 0 then redis.call('RPUSH', KEYS[2], unpack(batch)) end
  return added
end

-- The seq of the last (seq, bytes) pair from ARGV[from] on, or '' when none: the hash's 'tail'
-- ('rl' is the replay's length), so a commit checks SEQ-2 and the cap without reading the list.
local function tail_of(from)
  if from < #ARGV then return ARGV[#ARGV - 1] end
  return ''
end

-- The hash's 'hd': '<first seq>:<last seq>' of the replay ('' when empty), so a commit trims by
-- count when the seqs run without a gap (rl = last - first + 1), without reading the list. It
-- names the tail too: a writer that moved 'tail' without it (an older node) leaves it unused.
local function hd_of(from)
  if from < #ARGV then return ARGV[from] .. ':' .. ARGV[#ARGV - 1] end
  return ''
end

-- MN-15: a session's channels are hash fields: 'subs' (the list in order, as the caller encoded it:
-- read by the store's load, never parsed here), 'c:<channel>' (membership, for commits),
-- 'p:<channel>' (its broker position, MN-2) and 'v:<channel>' (its version when a commit joined it,
-- '' for none: the body's version, from the last save, is of an earlier membership; no field: the
-- body's is current). ARGV[at] is the channel count, (channel, position or '', version or '') triples
-- follow; returns the list (channel -> { position, version }) and the index after them.
local function channel_args(at)
  local n = tonumber(ARGV[at])
  local list = {}
  for i = at + 1, at + 3 * n, 3 do list[ARGV[i]] = { ARGV[i + 1], ARGV[i + 2] } end
  return list, at + 1 + 3 * n
end

local function is_channel_field(k)
  return k == 'p:' or k == 'c:' or k == 'v:'
end

-- A save or create: the whole list replaces every channel field; the versions are the body's.
local function set_channels(subs, at)
  local list = channel_args(at)
  local del = {}
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if is_channel_field(string.sub(f, 1, 2)) then del[#del + 1] = f end
  end
  if #del > 0 then redis.call('HDEL', KEYS[1], unpack(del)) end
  local set = { 'subs', subs }
  for ch, e in pairs(list) do
    set[#set + 1] = 'c:' .. ch
    set[#set + 1] = '1'
    if e[1] ~= '' then
      set[#set + 1] = 'p:' .. ch
      set[#set + 1] = e[1]
    end
  end
  redis.call('HSET', KEYS[1], unpack(set))
end

-- A commit's list (MN-15, record-delta.ts): channels left lose their fields, a channel kept keeps
-- its position and version, a new one (joined again too) takes the position and version given (or
-- none: 'v:' = '' hides the body's version, which is of the membership it left).
local function change_channels(subs, list)
  local had = {}
  local fields = redis.call('HKEYS', KEYS[1])
  for _, f in ipairs(fields) do
    if string.sub(f, 1, 2) == 'c:' then had[string.sub(f, 3)] = true end
  end
  local del = {}
  for _, f in ipairs(fields) do
    local k = string.sub(f, 1, 2)
    if is_channel_field(k) then
      local ch = string.sub(f, 3)
      if list[ch] == nil or (k ~= 'c:' and not had[ch]) then del[#del + 1] = f end
    end
  end
  if #del > 0 then redis.call('HDEL', KEYS[1], unpack(del)) end
  local set = { 'subs', subs }
  for ch, e in pairs(list) do
    if not had[ch] then
      set[#set + 1] = 'c:' .. ch
      set[#set + 1] = '1'
      set[#set + 1] = 'v:' .. ch
      set[#set + 1] = e[2]
      if e[1] ~= '' then
        set[#set + 1] = 'p:' .. ch
        set[#set + 1] = e[1]
      end
    end
  end
  redis.call('HSET', KEYS[1], unpack(set))
end
`;

/**
 * ARGV 6 node, 7 exp, 8 next, 9 acked, 10 lp, 11 la, 12 body, 13 the channel list (subs), 14 the
 * channel count, then (channel, position or '', version or '') triples, then (seq, bytes) pairs.
 */
const CREATE = `${PRELUDE}
expire_if_due()
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('${scriptErrors.exists} ' .. id) end
redis.call('DEL', KEYS[2], KEYS[3])
local _, f0 = channel_args(14)
redis.call('HSET', KEYS[1], 'fence', 1, 'node', ARGV[6], 'exp', ARGV[7], 'next', ARGV[8], 'acked', ARGV[9],
  'lp', ARGV[10], 'la', ARGV[11], 'body', ARGV[12], 'rb', push(f0, #ARGV), 'rl', (#ARGV - f0 + 1) / 2, 'tail', tail_of(f0), 'hd', hd_of(f0))
set_channels(ARGV[13], 14)
gc()
return 1
`;

/** ARGV 6 fence, then as CREATE from 7. */
const SAVE = `${PRELUDE}
expire_if_due()
local err = stale(ARGV[6])
if err then return err end
redis.call('DEL', KEYS[2])
local _, f0 = channel_args(14)
set_channels(ARGV[13], 14)
redis.call('HSET', KEYS[1], 'exp', ARGV[7], 'next', ARGV[8], 'acked', ARGV[9], 'lp', ARGV[10], 'la', ARGV[11],
  'body', ARGV[12], 'rb', push(f0, #ARGV), 'rl', (#ARGV - f0 + 1) / 2, 'tail', tail_of(f0), 'hd', hd_of(f0))
gc()
return 1
`;

/** The hash (flat) and the replay elements, or nil. */
const LOAD = `${PRELUDE}
expire_if_due()
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return { redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1) }
`;

/** ARGV 6 node, 7 claims stem. The new fence, or nil. Publishes the notice to the node that lost it (RS-7). */
const CLAIM = `${PRELUDE}
expire_if_due()
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local fence = redis.call('HINCRBY', KEYS[1], 'fence', 1)
local from = redis.call('HGET', KEYS[1], 'node')
if from ~= ARGV[6] then
  redis.call('HSET', KEYS[1], 'node', ARGV[6])
  redis.call('PUBLISH', ARGV[7] .. from, cjson.encode({ id = id, fence = fence, by = ARGV[6] }))
end
return fence
`;

/** ARGV 6 reason, 7 fence or ''. */
const END = `${PRELUDE}
local cur = redis.call('HGET', KEYS[1], 'fence')
if cur and ARGV[7] ~= '' and tonumber(ARGV[7]) < tonumber(cur) then
  return redis.error_reply('${scriptErrors.stale} ' .. cur)
end
redis.call('DEL', KEYS[1], KEYS[2])
remember(ARGV[6])
return 1
`;

/** The reason, or nil. */
const ENDED = `${PRELUDE}
expire_if_due()
local v = redis.call('GET', KEYS[3])
if not v then return false end
local reason, at = string.match(v, '^([^|]+)|([^|]+)|')
if now - tonumber(at) < ended_ttl then return reason end
redis.call('DEL', KEYS[3])
return false
`;

/**
 * RecordDelta (record-delta.ts applyDelta, the one definition): ARGV 6 fence, 7 maxFrames,
 * 8 maxBytes, 9 acked or '', 10 acked + 1, 11 lastProcessed or '', 12 lastAckSent or '',
 * 13 last frame's seq + 1 or '', 14 number of positions, then (channel, position) pairs, then the
 * channel list (subs) or '' when unchanged, the channel count (-1: unchanged) and (channel, position
 * or '', version or '') triples (MN-15), then (seq, bytes) pairs.
 */
const COMMIT_BODY = `
-- the hot path (one commit per session that changed, per tick: MN-1): one HMGET for the expiry, the
-- fence, the cursors, the replay's length and last seq, and the membership of each position's
-- channel; the list is read only to trim a replay whose seqs have gaps (never the server's: SEQ-2)
local npos = tonumber(ARGV[14])
local s0 = 15 + 2 * npos
local nsubs = tonumber(ARGV[s0 + 1])
local fields = { 'fence', 'exp', 'next', 'acked', 'lp', 'la', 'rb', 'rl', 'tail', 'hd' }
if nsubs < 0 then
  for i = 0, npos - 1 do fields[11 + i] = 'c:' .. ARGV[15 + 2 * i] end
end
local h = redis.call('HMGET', KEYS[1], unpack(fields))
if not h[1] or expire_if(h[2]) then return redis.error_reply('${scriptErrors.stale} none') end
if h[1] ~= ARGV[6] then return redis.error_reply('${scriptErrors.stale} ' .. h[1]) end
local nxt, acked, lp, la, rb = h[3], h[4], h[5], h[6], tonumber(h[7])
local llen, tail = tonumber(h[8]), h[9]
if not llen or not tail then
  -- a record written before 'rl' and 'tail' existed: read them from the list
  llen = redis.call('LLEN', KEYS[2])
  tail = ''
  if llen > 0 then tail = seq_of(redis.call('LINDEX', KEYS[2], -1)) end
end
local f0 = s0 + 2
if nsubs > 0 then f0 = f0 + 3 * nsubs end
-- SEQ-2: the first frame follows the last stored one (or the ack when none is stored)
if f0 < #ARGV then
  local last = acked
  if llen > 0 then last = tail end
  if not gt(ARGV[f0], last) then
    return redis.error_reply('${scriptErrors.seqOrder} ' .. ARGV[f0] .. ' ' .. last)
  end
end
-- SEQ-6, SEQ-7: a newer cumulative ack trims; an older one changes nothing
local new_acked = acked
if ARGV[9] ~= '' and gt(ARGV[9], acked) then new_acked = ARGV[9] end
-- the replay's first seq, when 'hd' is current (it names this tail)
local head = nil
if h[10] and h[10] ~= '' then
  local hh = string.match(h[10], '^(%d+):')
  if hh and h[10] == hh .. ':' .. tail then head = hh end
end
local trim_n, trim_b = 0, 0
-- no gap: trim_n is counted, not read; counted: trim_b is summed from what LPOP returns
local fast, counted = false, false
-- the first seq kept of the old list, when the trim read it
local first_kept = nil
if new_acked ~= acked and llen > 0 and head and #tail < 16 and #new_acked < 16 and tonumber(tail) - tonumber(head) + 1 == llen then
  -- no gap: the frames at or below the ack are the first (ack - head + 1)
  trim_n = tonumber(new_acked) - tonumber(head) + 1
  if trim_n > llen then trim_n = llen elseif trim_n < 0 then trim_n = 0 end
  fast, counted = true, true
elseif new_acked ~= acked and llen > 0 then
  -- seqs grow along the list: read its head in chunks (the first one sized by the ack's move)
  local want = tonumber(new_acked) - tonumber(acked)
  if want < 1 then want = 1 elseif want > 512 then want = 512 end
  local done = false
  while not done and trim_n < llen do
    local chunk = redis.call('LRANGE', KEYS[2], trim_n, trim_n + want - 1)
    for _, el in ipairs(chunk) do
      local s = seq_of(el)
      if gt(s, new_acked) then
        done = true
        first_kept = s
        break
      end
      trim_n = trim_n + 1
      trim_b = trim_b + #el - #s - 1
    end
    if #chunk < want then break end
    want = 512
  end
end
local keep = f0
while keep < #ARGV and not gt(ARGV[keep], new_acked) do keep = keep + 2 end
local add_b = 0
for i = keep + 1, #ARGV, 2 do add_b = add_b + #ARGV[i] end
local rn = llen - trim_n + (#ARGV - keep + 1) / 2
if counted and trim_n > 0 and rb + add_b > tonumber(ARGV[8]) then
  -- near the byte cap: count what the trim releases before deciding (rare: the cap is a bug's bound)
  for _, el in ipairs(redis.call('LRANGE', KEYS[2], 0, trim_n - 1)) do trim_b = trim_b + #el - string.find(el, ':', 1, true) end
  counted = false
end
local nb = rb - trim_b + add_b
if rn > tonumber(ARGV[7]) or nb > tonumber(ARGV[8]) then
  return redis.error_reply('${scriptErrors.replayCap} ' .. rn .. ' frames ' .. nb .. ' bytes')
end
-- everything checked: write
if trim_n > 0 then
  local els = redis.call('LPOP', KEYS[2], trim_n)
  if counted then
    for _, el in ipairs(els) do trim_b = trim_b + #el - string.find(el, ':', 1, true) end
    nb = rb - trim_b + add_b
  end
end
-- the replay's first seq now ('hd'): known, or read once (a record from before 'hd', a gap)
local first = nil
if llen > trim_n then
  if trim_n == 0 then first = head
  elseif fast then first = string.format('%d', tonumber(head) + trim_n)
  else first = first_kept end
elseif keep < #ARGV then
  first = ARGV[keep]
end
if keep < #ARGV then
  push(keep, #ARGV)
  tail = ARGV[#ARGV - 1]
  if h[2] and h[2] ~= '' then
    -- a detached record expires (gc): so does a list made again by this push
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
  end
elseif rn == 0 then
  tail = ''
end
if ARGV[13] ~= '' and gt(ARGV[13], nxt) then nxt = ARGV[13] end
if new_acked ~= acked and gt(ARGV[10], nxt) then nxt = ARGV[10] end
local hd = ''
if rn > 0 then
  if not first then first = seq_of(redis.call('LINDEX', KEYS[2], 0)) end
  hd = first .. ':' .. tail
end
local set = { 'next', nxt, 'acked', new_acked, 'rb', nb, 'rl', rn, 'tail', tail, 'hd', hd }
if ARGV[11] ~= '' and gt(ARGV[11], lp) then set[#set + 1] = 'lp'; set[#set + 1] = ARGV[11] end
if ARGV[12] ~= '' and gt(ARGV[12], la) then set[#set + 1] = 'la'; set[#set + 1] = ARGV[12] end
-- MN-15: the channel list first, so a position of a channel joined in this delta is kept
local list = nil
if nsubs >= 0 then
  list = channel_args(s0 + 1)
  change_channels(ARGV[s0], list)
end
-- MN-2: positions of subscribed channels only
for i = 0, npos - 1 do
  local ch = ARGV[15 + 2 * i]
  local member
  if list then member = list[ch] ~= nil else member = h[11 + i] ~= false end
  if member then
    set[#set + 1] = 'p:' .. ch
    set[#set + 1] = ARGV[16 + 2 * i]
  end
end
redis.call('HSET', KEYS[1], unpack(set))
return 1
`;

const COMMIT = `${PRELUDE}
${COMMIT_BODY}`;

/**
 * Many sessions' commits in one script call (MN-1: one call per tick, not one per session; Redis
 * pays one call's overhead for the tick). Each is COMMIT exactly, run on its own keys and
 * arguments: the prelude and COMMIT's text with KEYS and ARGV read through K and A, which the loop
 * points at each session's in turn. One session's refusal (stale fence, SEQ-2, cap) is its own:
 * the others are applied. Not for Redis Cluster (the keys of many sessions in one call).
 *
 * The sessions' commits come as ONE binary argument (commit-batch.ts has the layout and why),
 * read here with struct.unpack into the arguments COMMIT takes; each session's keys are its id
 * behind the stems (as the ended key already was).
 *
 * KEYS 1 ended-order, 2 ended-serial. ARGV 1 now, 2 endedTtlMs, 3 endedMaxIds, 4 the ended key
 * stem, 5 the number of sessions, 6 maxFrames, 7 maxBytes, 8 the session key stem, 9 the replay
 * key stem, 10 the batch. Returns the refusals only, flat: (the session's 1-based index, the error
 * reply's text) pairs; empty when every commit was applied.
 */
export const COMMIT_MANY = `
local K = { '', '', '', KEYS[1], KEYS[2] }
local A = { ARGV[1], '', ARGV[2], ARGV[3], ARGV[4] }
${withKA(PRELUDE)}
local function commit_one()
${withKA(COMMIT_BODY)}
end
-- SEQ-2: a canonical decimal plus one, digit by digit (no 2^53 limit)
local function incr(d)
  local i = #d
  while i > 0 and string.byte(d, i) == 57 do i = i - 1 end
  if i == 0 then return '1' .. string.rep('0', #d) end
  return string.sub(d, 1, i - 1) .. string.char(string.byte(d, i) + 1) .. string.rep('0', #d - i)
end
local su = struct.unpack
local buf, pos = ARGV[10], 1
local s_stem, r_stem, e_stem = ARGV[8], ARGV[9], ARGV[4]
local out = {}
for i = 1, tonumber(ARGV[5]) do
  local sid, fence, acked, lp, la, n
  sid, fence, acked, lp, la, n, pos = su('>Hc0Bc0Bc0Bc0Bc0H', buf, pos)
  local a = { ARGV[1], sid, ARGV[2], ARGV[3], ARGV[4], fence, ARGV[6], ARGV[7], acked, '', lp, la, '', n }
  if acked ~= '' then a[10] = incr(acked) end
  local j = 15
  for _ = 1, n do
    a[j], a[j + 1], pos = su('>Hc0Bc0', buf, pos)
    j = j + 2
  end
  local has_subs
  has_subs, pos = su('B', buf, pos)
  if has_subs == 1 then
    a[j], n, pos = su('>I4c0H', buf, pos)
    a[j + 1] = n
    j = j + 2
    for _ = 1, n do
      a[j], a[j + 1], a[j + 2], pos = su('>Hc0Bc0Bc0', buf, pos)
      j = j + 3
    end
  else
    a[j], a[j + 1] = '', -1
    j = j + 2
  end
  n, pos = su('>I4', buf, pos)
  for _ = 1, n do
    a[j], a[j + 1], pos = su('>Bc0I4c0', buf, pos)
    j = j + 2
  end
  if n > 0 then a[13] = incr(a[j - 2]) end
  K = { s_stem .. sid, r_stem .. sid, e_stem .. sid, KEYS[1], KEYS[2] }
  A = a
  id = sid
  local ok, r = pcall(commit_one)
  local err = nil
  if not ok then err = tostring(r)
  elseif type(r) == 'table' and r.err then err = r.err end
  if err then
    out[#out + 1] = i
    out[#out + 1] = err
  end
end
return out
`;

/** Lua text reading KEYS and ARGV through the locals K and A (COMMIT_MANY points them at each session). */
function withKA(lua: string): string {
  return lua.replaceAll('KEYS[', 'K[').replaceAll('#ARGV', '#A').replaceAll('ARGV[', 'A[');
}

/** SEQ-8. KEYS 1 the principal's set; ARGV 1 now, 2 message id, 3 forget at or below (now − ttl), 4 max ids, 5 ttl ms. */
const ADD_MESSAGE_ID = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if over > 0 then redis.call('ZPOPMIN', KEYS[1], over) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

type Arg = string | number | Buffer;

/** The commands defineSessionScripts adds to a connection (ioredis also adds the `…Buffer` variants). */
export interface SessionScripts {
  lifelineSessionCreate(...args: Arg[]): Promise<number>;
  lifelineSessionSave(...args: Arg[]): Promise<number>;
  lifelineSessionLoadBuffer(...args: Arg[]): Promise<[Buffer[], Buffer[]] | null>;
  lifelineSessionClaim(...args: Arg[]): Promise<number | null>;
  lifelineSessionEnd(...args: Arg[]): Promise<number>;
  lifelineSessionEnded(...args: Arg[]): Promise<string | null>;
  lifelineSessionCommit(...args: Arg[]): Promise<number>;
  /** COMMIT_MANY: the number of keys first; the refusals as (1-based index, error text) pairs. */
  lifelineSessionCommitMany(...args: Arg[]): Promise<(number | string)[]>;
  lifelineAddMessageId(...args: Arg[]): Promise<number>;
}

/** The number of KEYS every session script takes (see the module comment). */
export const SESSION_KEYS = 5;

/**
 * Define the scripts on `redis` (idempotent). ioredis sends each as EVAL the first time on a
 * socket and as EVALSHA after, and again as EVAL after a NOSCRIPT (a restarted Redis).
 */
export function defineSessionScripts(redis: Redis): Redis & SessionScripts {
  const scripts: Record<string, [string, number | undefined]> = {
    lifelineSessionCreate: [CREATE, SESSION_KEYS],
    lifelineSessionSave: [SAVE, SESSION_KEYS],
    lifelineSessionLoad: [LOAD, SESSION_KEYS],
    lifelineSessionClaim: [CLAIM, SESSION_KEYS],
    lifelineSessionEnd: [END, SESSION_KEYS],
    lifelineSessionEnded: [ENDED, SESSION_KEYS],
    lifelineSessionCommit: [COMMIT, SESSION_KEYS],
    lifelineSessionCommitMany: [COMMIT_MANY, undefined],
    lifelineAddMessageId: [ADD_MESSAGE_ID, 1],
  };
  for (const [name, [lua, numberOfKeys]] of Object.entries(scripts)) {
    if (!(name in redis)) redis.defineCommand(name, { lua, numberOfKeys });
  }
  return redis as Redis & SessionScripts;
}
