#!lua name=__LIBRARY__
--[[
contextstore's Redis functions: every operation on a namespace is one call of
one of these, so it is atomic towards every other call from every server.

Keys. A namespace lives in one hash slot: its keys share a hash tag {b},
b being the namespace's bucket (a digest of its name, modulo the bucket
count), so a bucket's own keys sit in that slot too:

  KEYS[1] D  hash of the namespace: its entries and its counters
  KEYS[2] T  hash of the bucket: store-wide counters (h hits, m misses,
             e evictions, x expirations, s stale analyses dropped), v the
             version count, c the last cached_at, r the last revision of the
             bucket's namespaces, f the floor of their histories (changes
             at or before it may be gone: see history)
  KEYS[3] U  sorted set of the bucket's namespaces by last use (the global
             namespace at +inf: it never expires; a member "" at +inf keeps
             it from ever emptying)
  KEYS[4] P  sorted set of every path of the namespace holding a file or an
             analysis, all scored 0, so in byte order: ListFiles and
             InvalidatePrefix read ranges of it (its name: D's, then "p")
  KEYS[5] W  stream of the namespace's changes: one entry per revision, its
             ID the revision ("r-0"), its field e the events in wire form
             (WatchResponse field 2, repeated); at most ARGV[5] entries, and
             kept after the namespace empties (its name: D's, then "w")
  KEYS[6] V  sorted set of the bucket's namespaces that have a stream W, by
             the time of their last change: the sweep deletes the streams of
             namespaces gone for longer than the history is kept
  KEYS[7] R  sorted set: recency of every entry (score: a tick of D); given
             only when a namespace budget is set, the one use of recency

A function never deletes a key and creates it again in one call, and no
declared key is one that may never exist: while a slot migrates, Redis
refuses (TRYAGAIN) a call whose declared keys are on both sides, and aborts
half done a call that re-creates a key it deleted.

Fields of D (paths never hold NUL, so the three kinds never meet):
  path              a file: charge(10 digits) tail length(8 digits) tail
                    content. The tail is its FileMetadata but the path in
                    protobuf wire form (the server's wire.py), as reads send
                    it: the server encodes its head (digest first, so at a
                    fixed offset; size, mtime, labels), put_files appends
                    cached_at and version as it assigns them (stamp_wire)
  path NUL type     an analysis: cached_at(20) charge(10) source flag(1)
                    source sha256(32, if flagged) result
  NUL path          the analysis types of path, as a cmsgpack array
  NUL NUL letter    counters: f files, a analyses, b bytes, h hits, m misses,
                    e evictions, s stale analyses dropped, k recency tick,
                    u last use
Members of R are D's entry fields. Times of idleness are the server's clock
in seconds (ARGV); cached_at values are nanoseconds, kept as 20-digit strings
because Lua numbers are doubles.

Namespace ids (U's members, D's name after the bucket prefix) start with
"x": those of earlier layouts are plain hex (layout 1: records without a
wire tail) or start with "w" (layout 2: without P). This library never
reads an earlier namespace: its records are misses, and the bucket sweep
deletes it (see bucket).

Every namespace function takes ARGV: now, ttl (0: never), id (D's name in
U), is_session ("1"/"0"), history (entries W keeps), then its own
arguments; recency is kept exactly when R is among its KEYS. Every change
is noted as events as it is made (note), and sealed into one revision of
the namespace when the call's change is whole (seal): one call, one
revision, evictions included; an expiry found on the way is its own.
]]

local CHARGE = 10
local TAIL_LEN = 8
local FILE_HEAD = CHARGE + TAIL_LEN -- before the tail
local SHA_AT = FILE_HEAD + 2 -- the tail's digest, after its tag and length
local SHA = 32
local ANALYSIS_HEAD = 31 -- cached_at, charge, source flag
local LAYOUT = 'x' -- what this layout's namespace ids start with

local function counter(key, name)
    return tonumber(redis.call('HGET', key, name) or '0')
end

-- cached_at: now, or a microsecond after the last one if the clock stalled
-- or stepped back. Both are 20-digit strings, so string order is time order.
local function later(last, now)
    if not last then
        return now
    end
    local s, n = tonumber(string.sub(last, 1, 11)), tonumber(string.sub(last, 12)) + 1000
    if n >= 1000000000 then
        s, n = s + 1, n - 1000000000
    end
    local next_ = string.format('%011d%09d', s, n)
    if now >= next_ then
        return now
    end
    return next_
end

local function stamp(T, wall)
    local at = later(redis.call('HGET', T, 'c'), wall)
    redis.call('HSET', T, 'c', at)
    return at
end

local function file_charge(record)
    return tonumber(string.sub(record, 1, CHARGE))
end

local function file_sha(record)
    return string.sub(record, SHA_AT + 1, SHA_AT + SHA)
end

-- n (a whole number below 2^53: Lua numbers are doubles) as a protobuf varint.
local function varint(n)
    local out = {}
    while n >= 128 do
        out[#out + 1] = string.char(n % 128 + 128)
        n = math.floor(n / 128)
    end
    out[#out + 1] = string.char(n)
    return table.concat(out)
end

-- FileMetadata's cached_at (field 5, a Timestamp) and version (field 7) in
-- wire form, as wire.metadata_stamp writes them: defaults left out. at is
-- 20 digits of nanoseconds: seconds and nanos each fit a double exactly.
local function stamp_wire(at, version)
    local seconds, nanos = tonumber(string.sub(at, 1, 11)), tonumber(string.sub(at, 12))
    local ts = ''
    if seconds > 0 then
        ts = '\8' .. varint(seconds)
    end
    if nanos > 0 then
        ts = ts .. '\16' .. varint(nanos)
    end
    local out = '\42' .. varint(#ts) .. ts
    if version > 0 then
        out = out .. '\56' .. varint(version)
    end
    return out
end

-- The version a file record's tail ends with: stamp_wire writes it last, as
-- a varint, whose bytes but the last have the high bit set, and its tag (56)
-- does not. Read from the end, so nothing before it is parsed.
local function file_version(record)
    local last = FILE_HEAD + tonumber(string.sub(record, CHARGE + 1, FILE_HEAD))
    local first = last
    while string.byte(record, first - 1) >= 128 do
        first = first - 1
    end
    local n = 0
    for i = last, first, -1 do
        n = n * 128 + string.byte(record, i) % 128
    end
    return n
end

-- A write's precondition on the file at path (if_version: '' or digits, 0
-- meaning no file; if_sha: '' or 32 bytes). false when it holds, else the
-- failure the server raises: {'PRECONDITION', path, version, sha}, version 0
-- and sha '' when no file is there.
local function unmet(D, path, if_version, if_sha)
    if if_version == '' and if_sha == '' then
        return false
    end
    local record = redis.call('HGET', D, path)
    local version, sha = 0, ''
    if record then
        version, sha = file_version(record), file_sha(record)
    end
    if (if_version ~= '' and tonumber(if_version) ~= version) or (if_sha ~= '' and if_sha ~= sha) then
        return { 'PRECONDITION', path, version, sha }
    end
    return false
end

local function analysis_charge(record)
    return tonumber(string.sub(record, 21, 30))
end

local function analysis_source(record)
    if string.sub(record, 31, 31) == '1' then
        return string.sub(record, ANALYSIS_HEAD + 1, ANALYSIS_HEAD + SHA)
    end
    return false
end

-- -- revisions and events ---------------------------------------------------

-- The events of the change being made, each a WatchResponse field 2 (a
-- WatchEvent) in wire form, until seal writes them. Functions run one at a
-- time, so one table serves every call; each call starts it empty (the
-- registrations at the end).
local pending = {}

-- The contract's WatchEventKind and RemovalReason numbers.
local FILE_CACHED, FILE_INVALIDATED, FILE_EVICTED, ANALYSIS_CACHED = 1, 2, 3, 4
local ANALYSIS_REMOVED, SESSION_CLEARED, SESSION_EXPIRED = 5, 6, 7
local STALE, INVALIDATED, EVICTED = 1, 2, 3

local function bytes_field(tag, s)
    return string.char(tag) .. varint(#s) .. s
end

-- A WatchEvent: kind (1), path (2), sha256 (3), version (4), analysis_type
-- (5), reason (6); nil fields left out.
local function note(kind, path, sha, version, analysis_type, reason)
    local e = { '\8', varint(kind) }
    if path ~= '' then
        e[#e + 1] = bytes_field(18, path)
    end
    if sha then
        e[#e + 1] = bytes_field(26, sha)
    end
    if version then
        e[#e + 1] = '\32' .. varint(version)
    end
    if analysis_type then
        e[#e + 1] = bytes_field(42, analysis_type)
    end
    if reason then
        e[#e + 1] = '\48' .. varint(reason)
    end
    pending[#pending + 1] = bytes_field(18, table.concat(e))
end

-- Revisions are microseconds since the epoch (below 2^53: exact in a double).
local function digits(r)
    return string.format('%.0f', r)
end

local function entry_revision(id)
    return tonumber(string.sub(id, 1, string.find(id, '-', 1, true) - 1))
end

-- The bucket's next revision: Redis's clock in microseconds, or one more
-- than the last if the clock stalled or stepped back. The bucket's first
-- revision is also its floor: a watcher resuming from before it (Redis
-- restarted empty) is told its changes are gone.
local function new_revision(T)
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
    local last = tonumber(redis.call('HGET', T, 'r') or '0')
    local r = now
    if r <= last then
        r = last + 1
    end
    if last == 0 then
        redis.call('HSET', T, 'f', digits(r))
    end
    redis.call('HSET', T, 'r', digits(r))
    return r
end

local function current_revision(T)
    local last = redis.call('HGET', T, 'r')
    if last then
        return tonumber(last)
    end
    return new_revision(T)
end

-- Seal the pending events into one revision of the namespace: an entry of
-- its stream W (trimmed to history entries), its time in V. Returns that
-- revision, or with nothing pending the bucket's current one.
local function seal_to(T, W, V, id, now, history)
    if #pending == 0 then
        return current_revision(T)
    end
    local r = new_revision(T)
    local entry = digits(r) .. '-0'
    local fresh = redis.call('EXISTS', W) == 0
    redis.call('XADD', W, 'MAXLEN', history, entry, 'e', table.concat(pending))
    if fresh then
        -- Whatever an earlier stream of this namespace held is gone: the
        -- bucket's floor (raised when the sweep deletes a stream) says so.
        local f = redis.call('HGET', T, 'f') or '0'
        redis.call('XSETID', W, entry, 'MAXDELETEDID', f .. '-0')
    end
    redis.call('ZADD', V, now, id)
    pending = {}
    return r
end

local function seal(keys, argv)
    return seal_to(keys[2], keys[5], keys[6], argv[3], argv[1], argv[5])
end

-- Changes at or before the floor may be gone from W: those trimmed (Redis
-- keeps no record of what XADD's MAXLEN trimmed, so everything before the
-- first entry left), and those of a deleted earlier stream (MAXDELETEDID).
local function floor_of(T, W)
    if redis.call('EXISTS', W) == 0 then
        return tonumber(redis.call('HGET', T, 'f') or '0')
    end
    local info, fields = redis.call('XINFO', 'STREAM', W), {}
    for i = 1, #info, 2 do
        fields[info[i]] = info[i + 1]
    end
    local floor = entry_revision(fields['max-deleted-entry-id'])
    if fields['entries-added'] > fields['length'] then
        floor = math.max(floor, entry_revision(fields['first-entry'][1]) - 1)
    end
    return floor
end

-- -- namespace lifetime -------------------------------------------------------

-- D, R (false without a budget), T, U, P.
local function namespace_keys(keys)
    return keys[1], keys[7] or false, keys[2], keys[3], keys[4]
end

-- Drop the namespace whole (clear or expiry): O(its entries), nothing else.
local function drop(D, R, U, id)
    local files, analyses = counter(D, '\0\0f'), counter(D, '\0\0a')
    redis.call('UNLINK', D, D .. 'p')
    if R then
        redis.call('UNLINK', R)
    end
    redis.call('ZREM', U, id)
    return files, analyses
end

local function idle(last, now, ttl, is_session)
    return is_session == '1' and ttl > 0 and last and now - tonumber(last) >= ttl
end

local function expire(D, R, T, U, id)
    drop(D, R, U, id)
    redis.call('HINCRBY', T, 'x', 1)
end

-- Expire the namespace, a revision of its own.
local function expire_now(keys, argv)
    local D, R, T, U = namespace_keys(keys)
    expire(D, R, T, U, argv[3])
    note(SESSION_EXPIRED, '')
    seal(keys, argv)
end

-- Expire the namespace if it has been idle for ttl; true if it did.
local function expire_if_idle(keys, argv)
    local D = keys[1]
    if idle(redis.call('HGET', D, '\0\0u'), tonumber(argv[1]), tonumber(argv[2]), argv[4]) then
        expire_now(keys, argv)
        return true
    end
    return false
end

-- Last use is written when it moved by this much (ttl/1000, at most a second):
-- under load most calls then write nothing for it, and a session expires at
-- most that much early.
local function refresh_after(ttl)
    if ttl > 0 and ttl < 1000 then
        return ttl / 1000
    end
    return 1
end

-- Every data call starts here: expire if idle, then mark used. Only a call
-- that stores something creates the namespace. Returns whether it exists.
-- The last-use field exists exactly while the namespace does.
local function enter(keys, argv, create)
    local D, R, T, U = namespace_keys(keys)
    local now, ttl, id, is_session = tonumber(argv[1]), tonumber(argv[2]), argv[3], argv[4]
    local last = redis.call('HGET', D, '\0\0u')
    if idle(last, now, ttl, is_session) then
        expire_now(keys, argv)
        last = false
    end
    if not last and not create then
        return false
    end
    if not last or now - tonumber(last) >= refresh_after(ttl) then
        redis.call('HSET', D, '\0\0u', argv[1])
        if is_session == '1' then
            redis.call('ZADD', U, now, id)
        elseif not last then
            redis.call('ZADD', U, 'inf', id)
        end
        if not last then
            redis.call('ZADD', U, 'NX', 'inf', '')
        end
    end
    return true
end

-- -- entries ------------------------------------------------------------------

local function touch(D, R, field)
    if R then
        redis.call('ZADD', R, redis.call('HINCRBY', D, '\0\0k', 1), field)
    end
end

local function account(D, kind, charge, sign)
    redis.call('HINCRBY', D, '\0\0' .. kind, sign)
    redis.call('HINCRBY', D, '\0\0b', sign * charge)
end

local function types_of(D, path)
    local packed = redis.call('HGET', D, '\0' .. path)
    if not packed then
        return {}
    end
    return cmsgpack.unpack(packed)
end

local function set_types(D, path, types)
    if #types == 0 then
        redis.call('HDEL', D, '\0' .. path)
    else
        redis.call('HSET', D, '\0' .. path, cmsgpack.pack(types))
    end
end

-- P holds a path while D holds its file or any analysis type of it.
local function index_path(P, path)
    redis.call('ZADD', P, 0, path)
end

local function unindex_if_gone(D, P, path)
    if redis.call('HEXISTS', D, path) == 0 and redis.call('HEXISTS', D, '\0' .. path) == 0 then
        redis.call('ZREM', P, path)
    end
end

-- Remove an entry whose record was just read: kind 'f' (a file) or 'a'.
local function forget(D, R, field, kind, charge)
    redis.call('HDEL', D, field)
    if R then
        redis.call('ZREM', R, field)
    end
    account(D, kind, charge, -1)
end

local function remove_analysis(D, R, path, analysis_type)
    local field = path .. '\0' .. analysis_type
    local record = redis.call('HGET', D, field)
    if not record then
        return false
    end
    forget(D, R, field, 'a', analysis_charge(record))
    return true
end

local function drop_types(D, path, gone)
    local kept = {}
    for _, t in ipairs(types_of(D, path)) do
        if not gone[t] then
            kept[#kept + 1] = t
        end
    end
    set_types(D, path, kept)
end

-- Remove analyses of path: all (INVALIDATED), or those not recorded
-- against keep_sha (STALE).
local function remove_analyses(D, R, path, keep_sha)
    local gone, count = {}, 0
    for _, t in ipairs(types_of(D, path)) do
        local field = path .. '\0' .. t
        local record = redis.call('HGET', D, field)
        if not keep_sha or not record or analysis_source(record) ~= keep_sha then
            if record then
                forget(D, R, field, 'a', analysis_charge(record))
                note(ANALYSIS_REMOVED, path, nil, nil, t, keep_sha and STALE or INVALIDATED)
                count = count + 1
            end
            gone[t] = true
        end
    end
    drop_types(D, path, gone)
    return count
end

local function remove_file(D, R, path)
    local record = redis.call('HGET', D, path)
    if not record then
        return false
    end
    forget(D, R, path, 'f', file_charge(record))
    return true
end

-- Rank every entry of D missing from R as the oldest.
local function rank_untracked(D, R)
    for _, field in ipairs(redis.call('HKEYS', D)) do
        if string.byte(field, 1) ~= 0 then
            redis.call('ZADD', R, 'NX', 0, field)
        end
    end
end

-- Evict least recently used entries while the namespace is over a budget.
-- An evicted file keeps its analyses: they carry their source digest.
local function enforce(D, R, T, P, max_bytes, max_entries)
    while R do
        local used = counter(D, '\0\0b')
        local entries = counter(D, '\0\0f') + counter(D, '\0\0a')
        local over = (max_bytes > 0 and used > max_bytes) or (max_entries > 0 and entries > max_entries)
        if not over then
            return
        end
        if redis.call('ZCARD', R) < entries then
            -- Entries written while no budget was set have no recency: rank
            -- them as the oldest (once: then every entry has a rank).
            rank_untracked(D, R)
        end
        local oldest = redis.call('ZPOPMIN', R)
        if #oldest == 0 then
            return -- nothing left to evict: the accounts say otherwise, trust the entries
        end
        local field = oldest[1]
        local nul = string.find(field, '\0', 1, true)
        local removed
        local path = field
        if nul then
            local t
            path, t = string.sub(field, 1, nul - 1), string.sub(field, nul + 1)
            removed = remove_analysis(D, R, path, t)
            if removed then
                drop_types(D, path, { [t] = true })
                note(ANALYSIS_REMOVED, path, nil, nil, t, EVICTED)
            end
        else
            removed = remove_file(D, R, field)
            if removed then
                note(FILE_EVICTED, path)
            end
        end
        unindex_if_gone(D, P, path)
        if removed then
            redis.call('HINCRBY', D, '\0\0e', 1)
            redis.call('HINCRBY', T, 'e', 1)
        end
    end
end

-- -- the functions ----------------------------------------------------------

-- ARGV after the common five: wall_ns (20 digits), session_bytes,
-- session_entries, then for each file path, sha256, charge (10 digits) and
-- the tail's head (wire.metadata_head), content, if_version, if_sha (see
-- unmet). Returns cached_at and version of each, in order, or the first
-- unmet precondition, having stored nothing.
local function put_files(keys, argv)
    local n = (#argv - 8) / 6
    local D, R, T, _, P = namespace_keys(keys)
    -- Every precondition is tested before the namespace is created or any
    -- file stored: a batch is all or nothing.
    local exists = enter(keys, argv, false)
    for i = 0, n - 1 do
        local failed = unmet(D, argv[9 + 6 * i], argv[13 + 6 * i], argv[14 + 6 * i])
        if failed then
            return failed
        end
    end
    if not exists and not enter(keys, argv, n > 0) then
        return { current_revision(T) }
    end
    local out = { false } -- the revision, once sealed
    for i = 0, n - 1 do
        local at_ = 9 + 6 * i
        local path, sha, head, content = argv[at_], argv[at_ + 1], argv[at_ + 2], argv[at_ + 3]
        -- Recency first and the old record overwritten, never R emptied then
        -- re-created: in a MIGRATING slot Redis aborts, half done, a call that
        -- re-creates a key it deleted.
        touch(D, R, path)
        local stale = remove_analyses(D, R, path, sha)
        if stale > 0 then
            redis.call('HINCRBY', D, '\0\0s', stale)
            redis.call('HINCRBY', T, 's', stale)
        end
        local old = redis.call('HGET', D, path)
        if old then
            account(D, 'f', file_charge(old), -1)
        end
        local at = stamp(T, argv[6])
        local version = redis.call('HINCRBY', T, 'v', 1)
        -- head: the charge, then the tail's head (see FILE_HEAD)
        local tail = string.sub(head, CHARGE + 1) .. stamp_wire(at, version)
        local charge = string.sub(head, 1, CHARGE)
        redis.call('HSET', D, path, charge .. string.format('%08d', #tail) .. tail .. content)
        index_path(P, path)
        account(D, 'f', tonumber(charge), 1)
        note(FILE_CACHED, path, sha, version)
        out[#out + 1] = { at, version }
    end
    enforce(D, R, T, P, tonumber(argv[7]), tonumber(argv[8]))
    out[1] = seal(keys, argv)
    return out
end

-- ARGV after the common five: wall_ns, session_bytes, session_entries, path,
-- type, result, charge, if_version, if_sha (see unmet). Returns cached_at,
-- or the unmet precondition, having stored nothing.
local function put_analysis(keys, argv)
    local D, R, T, _, P = namespace_keys(keys)
    local path, t, result, charge = argv[9], argv[10], argv[11], argv[12]
    enter(keys, argv, false)
    local failed = unmet(D, path, argv[13], argv[14])
    if failed then
        return failed
    end
    enter(keys, argv, true)
    local field = path .. '\0' .. t
    touch(D, R, field) -- first, and the old record overwritten: see put_files
    local old = redis.call('HGET', D, field)
    if old then
        account(D, 'a', analysis_charge(old), -1)
    else
        local types = types_of(D, path)
        types[#types + 1] = t
        set_types(D, path, types)
    end
    local file = redis.call('HGET', D, path)
    local source = file and ('1' .. file_sha(file)) or '0'
    local at = stamp(T, argv[6])
    redis.call('HSET', D, field, at .. string.format('%010d', tonumber(charge)) .. source .. result)
    index_path(P, path)
    account(D, 'a', tonumber(charge), 1)
    note(ANALYSIS_CACHED, path, nil, nil, t)
    enforce(D, R, T, P, tonumber(argv[7]), tonumber(argv[8]))
    return { at, seal(keys, argv) }
end

-- ARGV after the common five: what ("f" file, "m" file metadata, "a"
-- analysis), then fields. Returns each record (metadata: without content),
-- or false for a miss; counts hits and misses, refreshes recency.
local function get(keys, argv)
    local D, R, T = namespace_keys(keys)
    local exists = enter(keys, argv, false)
    local what, out, hits = argv[6], {}, 0
    local first = 7
    while exists and first <= #argv do
        local last = math.min(first + 999, #argv) -- unpack's stack is bounded
        local records = redis.call('HMGET', D, unpack(argv, first, last))
        for i, record in ipairs(records) do
            if record then
                hits = hits + 1
                touch(D, R, argv[first + i - 1])
                if what == 'm' then
                    local tail = tonumber(string.sub(record, CHARGE + 1, FILE_HEAD))
                    record = string.sub(record, 1, FILE_HEAD + tail)
                end
            end
            out[#out + 1] = record
        end
        first = last + 1
    end
    local misses = #argv - 6 - hits
    if not exists then
        for i = 7, #argv do
            out[#out + 1] = false
        end
    end
    if hits > 0 then
        redis.call('HINCRBY', D, '\0\0h', hits)
        redis.call('HINCRBY', T, 'h', hits)
    end
    if misses > 0 then
        if exists then
            redis.call('HINCRBY', D, '\0\0m', misses)
        end
        redis.call('HINCRBY', T, 'm', misses)
    end
    return out
end

-- ARGV after the common five: path, if_version, if_sha (see unmet). Returns
-- {files, analyses, revision}, or the unmet precondition, having removed nothing.
local function invalidate_file(keys, argv)
    local D, R, T, _, P = namespace_keys(keys)
    local exists = enter(keys, argv, false)
    local failed = unmet(D, argv[6], argv[7], argv[8])
    if failed then
        return failed
    end
    if not exists then
        return { 0, 0, current_revision(T) }
    end
    local files = 0
    if remove_file(D, R, argv[6]) then
        files = 1
        note(FILE_INVALIDATED, argv[6])
    end
    local analyses = remove_analyses(D, R, argv[6], false)
    unindex_if_gone(D, P, argv[6])
    return { files, analyses, seal(keys, argv) }
end

-- ARGV after the common five: path, then the type (none: every type).
-- Returns {removed, revision}.
local function invalidate_analysis(keys, argv)
    local D, R, T, _, P = namespace_keys(keys)
    if not enter(keys, argv, false) then
        return { 0, current_revision(T) }
    end
    local path = argv[6]
    local count
    if #argv < 7 then
        count = remove_analyses(D, R, path, false)
    elseif remove_analysis(D, R, path, argv[7]) then
        drop_types(D, path, { [argv[7]] = true })
        note(ANALYSIS_REMOVED, path, nil, nil, argv[7], INVALIDATED)
        count = 1
    else
        return { 0, current_revision(T) }
    end
    unindex_if_gone(D, P, path)
    return { count, seal(keys, argv) }
end

-- The range of P under prefix: every path that starts with it (0xFF never
-- appears in UTF-8, so prefix .. 0xFF is above all of them).
local function under(prefix)
    return '[' .. prefix, '(' .. prefix .. '\255'
end

-- ARGV after the common five: prefix, after ('' for none: a path is never
-- empty), limit, looks, budget. Up to limit files under prefix after the
-- path after, in path order, looking at looks paths at most and reading
-- records of budget bytes at most (a record holds its content). Returns
-- the revision, next (the path the next page starts after, or false at the
-- end), then path and tail of each file.
local function list(keys, argv)
    local D, _, T, _, P = namespace_keys(keys)
    if not enter(keys, argv, false) then
        return { current_revision(T), false }
    end
    local prefix, after = argv[6], argv[7]
    local limit, looks, budget = tonumber(argv[8]), tonumber(argv[9]), tonumber(argv[10])
    local min, max = under(prefix)
    if after ~= '' then
        min = '(' .. after
    end
    local paths = redis.call('ZRANGEBYLEX', P, min, max, 'LIMIT', 0, looks + 1)
    local out, found = { current_revision(T), false }, 0
    for i, path in ipairs(paths) do
        if found == limit or i > looks or budget <= 0 then
            out[2] = paths[i - 1]
            return out
        end
        local record = redis.call('HGET', D, path)
        if record then
            local tail = tonumber(string.sub(record, CHARGE + 1, FILE_HEAD))
            out[#out + 1] = path
            out[#out + 1] = string.sub(record, FILE_HEAD + 1, FILE_HEAD + tail)
            found = found + 1
            budget = budget - #record
        end
    end
    return out
end

-- ARGV after the common five: prefix (not empty). Removes every file and
-- analysis under it. Returns {files, analyses, revision}.
local function invalidate_prefix(keys, argv)
    local D, R, T, _, P = namespace_keys(keys)
    if not enter(keys, argv, false) then
        return { 0, 0, current_revision(T) }
    end
    local min, max = under(argv[6])
    local files, analyses = 0, 0
    for _, path in ipairs(redis.call('ZRANGEBYLEX', P, min, max)) do
        if remove_file(D, R, path) then
            files = files + 1
            note(FILE_INVALIDATED, path)
        end
        analyses = analyses + remove_analyses(D, R, path, false)
    end
    redis.call('ZREMRANGEBYLEX', P, min, max)
    return { files, analyses, seal(keys, argv) }
end

-- Returns {files, analyses, revision}; an idle session is found expired.
local function clear(keys, argv)
    local D, R, T, U = namespace_keys(keys)
    if expire_if_idle(keys, argv) or redis.call('EXISTS', D) == 0 then
        return { 0, 0, current_revision(T) }
    end
    local files, analyses = drop(D, R, U, argv[3])
    note(SESSION_CLEARED, '')
    return { files, analyses, seal(keys, argv) }
end

-- Returns the namespace's revision (the bucket's: see the header).
local function revision(keys, argv)
    return current_revision(keys[2])
end

-- ARGV after the common five: after (a revision), count. Not a data call:
-- neither refreshes nor expires the session. Returns the current revision,
-- then ID and events of each of the namespace's changes after after (at
-- most count); or {'COMPACTED', floor, current} when changes after it may
-- be gone (see floor_of).
local function history(keys, argv)
    local T, W = keys[2], keys[5]
    local current = current_revision(T)
    local after = tonumber(argv[6])
    local floor = floor_of(T, W)
    if after < floor then
        return { 'COMPACTED', floor, current }
    end
    local out = { current }
    local start = '(' .. digits(after) .. '-0'
    for _, e in ipairs(redis.call('XRANGE', W, start, '+', 'COUNT', argv[7])) do
        out[#out + 1] = e[1]
        out[#out + 1] = e[2][2]
    end
    return out
end

-- Counters of one namespace: files, analyses, bytes, exists, hits, misses,
-- evictions, stale analyses dropped. Does not refresh idleness; an idle
-- session is found expired.
local function stats(keys, argv)
    local D = keys[1]
    expire_if_idle(keys, argv)
    local c = redis.call(
        'HMGET', D, '\0\0f', '\0\0a', '\0\0b', '\0\0h', '\0\0m', '\0\0e', '\0\0s'
    )
    local exists = redis.call('EXISTS', D)
    return { c[1] or 0, c[2] or 0, c[3] or 0, exists, c[4] or 0, c[5] or 0, c[6] or 0, c[7] or 0 }
end

-- The bucket's sweep and sums. KEYS: T, U, V. ARGV: now, ttl, the key
-- prefix of the bucket's namespaces (D is prefix .. id, R is D .. "r", W is
-- D .. "w"), "1" if R is kept, history (entries W keeps), and how long the
-- history of a namespace that is gone is kept (seconds). Deletes layout-1
-- namespaces, expires every idle session of the bucket, deletes histories
-- kept long enough, then returns files, analyses, bytes, sessions, hits,
-- misses, evictions, expirations, stale analyses dropped, and how many
-- expired now. It reads the namespaces' keys by name: they share the
-- bucket's slot.
local function bucket(keys, argv)
    local T, U, V = keys[1], keys[2], keys[3]
    local now, ttl, prefix, lru = tonumber(argv[1]), tonumber(argv[2]), argv[3], argv[4] == '1'
    local history, kept = argv[5], tonumber(argv[6])
    -- Namespaces of layout 1 (see the header): deleted, neither read nor counted.
    for _, id in ipairs(redis.call('ZRANGE', U, 0, -1)) do
        if id ~= '' and string.sub(id, 1, 1) ~= LAYOUT then
            redis.call('UNLINK', prefix .. id, prefix .. id .. 'r', prefix .. id .. 'p')
            redis.call('ZREM', U, id)
        end
    end
    local expired = 0
    if ttl > 0 then
        for _, id in ipairs(redis.call('ZRANGEBYSCORE', U, '-inf', now - ttl)) do
            local D = prefix .. id
            local ns_keys = { D, T, U, D .. 'p', D .. 'w', V, lru and D .. 'r' }
            if expire_if_idle(ns_keys, { argv[1], argv[2], id, '1', history }) then
                expired = expired + 1
            elseif redis.call('EXISTS', D) == 0 then
                redis.call('ZREM', U, id) -- gone under us (Redis evicted it)
            end
        end
    end
    -- Histories of namespaces gone for longer than they are kept: deleted,
    -- the floor raised past them (a namespace that comes back starts its
    -- stream from that floor: seal_to).
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', V, '-inf', now - kept)) do
        local D = prefix .. id
        if redis.call('EXISTS', D) == 0 then
            local last = redis.call('XREVRANGE', D .. 'w', '+', '-', 'COUNT', 1)[1]
            if last and entry_revision(last[1]) > tonumber(redis.call('HGET', T, 'f') or '0') then
                redis.call('HSET', T, 'f', digits(entry_revision(last[1])))
            end
            redis.call('UNLINK', D .. 'w')
            redis.call('ZREM', V, id)
        end
    end
    local files, analyses, bytes, sessions = 0, 0, 0, 0
    for _, id in ipairs(redis.call('ZRANGE', U, 0, -1)) do
        local c = id ~= '' and redis.call('HMGET', prefix .. id, '\0\0f', '\0\0a', '\0\0b', '\0\0u')
        if c and c[4] then
            files = files + tonumber(c[1] or 0)
            analyses = analyses + tonumber(c[2] or 0)
            bytes = bytes + tonumber(c[3] or 0)
            sessions = sessions + 1
        end
    end
    local t = redis.call('HMGET', T, 'h', 'm', 'e', 'x', 's')
    return {
        files, analyses, bytes, sessions,
        t[1] or 0, t[2] or 0, t[3] or 0, t[4] or 0, t[5] or 0, expired,
    }
end

-- Each call starts with no events pending: one that failed half way (a
-- Redis error) left its own, which no revision should carry.
local function register(name, fn)
    redis.register_function('__LIBRARY___' .. name, function(keys, argv)
        pending = {}
        return fn(keys, argv)
    end)
end

register('put_files', put_files)
register('put_analysis', put_analysis)
register('get', get)
register('invalidate_file', invalidate_file)
register('invalidate_analysis', invalidate_analysis)
register('clear', clear)
register('list', list)
register('invalidate_prefix', invalidate_prefix)
register('revision', revision)
register('history', history)
register('stats', stats)
register('bucket', bucket)
