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
             version count, c the last cached_at
  KEYS[3] U  sorted set of the bucket's namespaces by last use (the global
             namespace at +inf: it never expires; a member "" at +inf keeps
             it from ever emptying)
  KEYS[4] P  sorted set of every path of the namespace holding a file or an
             analysis, all scored 0, so in byte order: ListFiles and
             InvalidatePrefix read ranges of it (its name: D's, then "p")
  KEYS[5] R  sorted set: recency of every entry (score: a tick of D); given
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
U), is_session ("1"/"0"), then its own arguments; recency is kept exactly
when R is among its KEYS.
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

-- -- namespace lifetime -------------------------------------------------------

-- D, R (false without a budget), T, U, P.
local function namespace_keys(keys)
    return keys[1], keys[5] or false, keys[2], keys[3], keys[4]
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

-- Expire the namespace if it has been idle for ttl; true if it did.
local function expire_if_idle(D, R, T, U, now, ttl, id, is_session)
    if idle(redis.call('HGET', D, '\0\0u'), now, ttl, is_session) then
        expire(D, R, T, U, id)
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
        expire(D, R, T, U, id)
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

-- Remove analyses of path: all, or those not recorded against sha.
local function remove_analyses(D, R, path, keep_sha)
    local gone, count = {}, 0
    for _, t in ipairs(types_of(D, path)) do
        local field = path .. '\0' .. t
        local record = redis.call('HGET', D, field)
        if not keep_sha or not record or analysis_source(record) ~= keep_sha then
            if record then
                forget(D, R, field, 'a', analysis_charge(record))
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
            end
        else
            removed = remove_file(D, R, field)
        end
        unindex_if_gone(D, P, path)
        if removed then
            redis.call('HINCRBY', D, '\0\0e', 1)
            redis.call('HINCRBY', T, 'e', 1)
        end
    end
end

-- -- the functions ----------------------------------------------------------

-- ARGV after the common four: wall_ns (20 digits), session_bytes,
-- session_entries, then for each file path, sha256, charge (10 digits) and
-- the tail's head (wire.metadata_head), content, if_version, if_sha (see
-- unmet). Returns cached_at and version of each, in order, or the first
-- unmet precondition, having stored nothing.
local function put_files(keys, argv)
    local n = (#argv - 7) / 6
    local D, R, T, _, P = namespace_keys(keys)
    -- Every precondition is tested before the namespace is created or any
    -- file stored: a batch is all or nothing.
    local exists = enter(keys, argv, false)
    for i = 0, n - 1 do
        local failed = unmet(D, argv[8 + 6 * i], argv[12 + 6 * i], argv[13 + 6 * i])
        if failed then
            return failed
        end
    end
    if not exists and not enter(keys, argv, n > 0) then
        return {}
    end
    local out = {}
    for i = 0, n - 1 do
        local at_ = 8 + 6 * i
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
        local at = stamp(T, argv[5])
        local version = redis.call('HINCRBY', T, 'v', 1)
        -- head: the charge, then the tail's head (see FILE_HEAD)
        local tail = string.sub(head, CHARGE + 1) .. stamp_wire(at, version)
        local charge = string.sub(head, 1, CHARGE)
        redis.call('HSET', D, path, charge .. string.format('%08d', #tail) .. tail .. content)
        index_path(P, path)
        account(D, 'f', tonumber(charge), 1)
        out[#out + 1] = { at, version }
    end
    enforce(D, R, T, P, tonumber(argv[6]), tonumber(argv[7]))
    return out
end

-- ARGV after the common four: wall_ns, session_bytes, session_entries, path,
-- type, result, charge, if_version, if_sha (see unmet). Returns cached_at,
-- or the unmet precondition, having stored nothing.
local function put_analysis(keys, argv)
    local D, R, T, _, P = namespace_keys(keys)
    local path, t, result, charge = argv[8], argv[9], argv[10], argv[11]
    enter(keys, argv, false)
    local failed = unmet(D, path, argv[12], argv[13])
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
    local at = stamp(T, argv[5])
    redis.call('HSET', D, field, at .. string.format('%010d', tonumber(charge)) .. source .. result)
    index_path(P, path)
    account(D, 'a', tonumber(charge), 1)
    enforce(D, R, T, P, tonumber(argv[6]), tonumber(argv[7]))
    return at
end

-- ARGV after the common four: what ("f" file, "m" file metadata, "a"
-- analysis), then fields. Returns each record (metadata: without content),
-- or false for a miss; counts hits and misses, refreshes recency.
local function get(keys, argv)
    local D, R, T = namespace_keys(keys)
    local exists = enter(keys, argv, false)
    local what, out, hits = argv[5], {}, 0
    local first = 6
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
    local misses = #argv - 5 - hits
    if not exists then
        for i = 6, #argv do
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

-- ARGV after the common four: path, if_version, if_sha (see unmet). Returns
-- {files, analyses} removed, or the unmet precondition, having removed nothing.
local function invalidate_file(keys, argv)
    local D, R, _, _, P = namespace_keys(keys)
    local exists = enter(keys, argv, false)
    local failed = unmet(D, argv[5], argv[6], argv[7])
    if failed then
        return failed
    end
    if not exists then
        return { 0, 0 }
    end
    local files = remove_file(D, R, argv[5]) and 1 or 0
    local analyses = remove_analyses(D, R, argv[5], false)
    unindex_if_gone(D, P, argv[5])
    return { files, analyses }
end

-- ARGV after the common four: path, then the type (none: every type).
local function invalidate_analysis(keys, argv)
    if not enter(keys, argv, false) then
        return 0
    end
    local D, R, _, _, P = namespace_keys(keys)
    local path = argv[5]
    local count
    if #argv < 6 then
        count = remove_analyses(D, R, path, false)
    elseif remove_analysis(D, R, path, argv[6]) then
        drop_types(D, path, { [argv[6]] = true })
        count = 1
    else
        return 0
    end
    unindex_if_gone(D, P, path)
    return count
end

-- The range of P under prefix: every path that starts with it (0xFF never
-- appears in UTF-8, so prefix .. 0xFF is above all of them).
local function under(prefix)
    return '[' .. prefix, '(' .. prefix .. '\255'
end

-- ARGV after the common four: prefix, after ('' for none: a path is never
-- empty), limit, looks, budget. Up to limit files under prefix after the
-- path after, in path order, looking at looks paths at most and reading
-- records of budget bytes at most (a record holds its content). Returns
-- next (the path the next page starts after, or false at the end), then
-- path and tail of each file.
local function list(keys, argv)
    local D, _, _, _, P = namespace_keys(keys)
    if not enter(keys, argv, false) then
        return { false }
    end
    local prefix, after = argv[5], argv[6]
    local limit, looks, budget = tonumber(argv[7]), tonumber(argv[8]), tonumber(argv[9])
    local min, max = under(prefix)
    if after ~= '' then
        min = '(' .. after
    end
    local paths = redis.call('ZRANGEBYLEX', P, min, max, 'LIMIT', 0, looks + 1)
    local out, found = { false }, 0
    for i, path in ipairs(paths) do
        if found == limit or i > looks or budget <= 0 then
            out[1] = paths[i - 1]
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

-- ARGV after the common four: prefix (not empty). Removes every file and
-- analysis under it. Returns {files, analyses} removed.
local function invalidate_prefix(keys, argv)
    local D, R, _, _, P = namespace_keys(keys)
    if not enter(keys, argv, false) then
        return { 0, 0 }
    end
    local min, max = under(argv[5])
    local files, analyses = 0, 0
    for _, path in ipairs(redis.call('ZRANGEBYLEX', P, min, max)) do
        if remove_file(D, R, path) then
            files = files + 1
        end
        analyses = analyses + remove_analyses(D, R, path, false)
    end
    redis.call('ZREMRANGEBYLEX', P, min, max)
    return { files, analyses }
end

-- Returns {files, analyses} removed; an idle session is found expired.
local function clear(keys, argv)
    local D, R, T, U = namespace_keys(keys)
    if expire_if_idle(D, R, T, U, tonumber(argv[1]), tonumber(argv[2]), argv[3], argv[4]) then
        return { 0, 0 }
    end
    local files, analyses = drop(D, R, U, argv[3])
    return { files, analyses }
end

-- Counters of one namespace: files, analyses, bytes, exists, hits, misses,
-- evictions, stale analyses dropped. Does not refresh idleness; an idle
-- session is found expired.
local function stats(keys, argv)
    local D, R, T, U = namespace_keys(keys)
    expire_if_idle(D, R, T, U, tonumber(argv[1]), tonumber(argv[2]), argv[3], argv[4])
    local c = redis.call(
        'HMGET', D, '\0\0f', '\0\0a', '\0\0b', '\0\0h', '\0\0m', '\0\0e', '\0\0s'
    )
    local exists = redis.call('EXISTS', D)
    return { c[1] or 0, c[2] or 0, c[3] or 0, exists, c[4] or 0, c[5] or 0, c[6] or 0, c[7] or 0 }
end

-- The bucket's sweep and sums. KEYS: T, U. ARGV: now, ttl, the key prefix
-- of the bucket's namespaces (D is prefix .. id, R is D .. "r"), "1" if R
-- is kept. Deletes layout-1 namespaces, expires every idle session of the bucket, then returns files, analyses, bytes,
-- sessions, hits, misses, evictions, expirations, stale analyses dropped, and how
-- many expired now.
-- It reads the namespaces' keys by name: they share the bucket's slot.
local function bucket(keys, argv)
    local T, U = keys[1], keys[2]
    local now, ttl, prefix, lru = tonumber(argv[1]), tonumber(argv[2]), argv[3], argv[4] == '1'
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
            if expire_if_idle(D, lru and D .. 'r', T, U, now, ttl, id, '1') then
                expired = expired + 1
            elseif redis.call('EXISTS', D) == 0 then
                redis.call('ZREM', U, id) -- gone under us (Redis evicted it)
            end
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

redis.register_function('__LIBRARY___put_files', put_files)
redis.register_function('__LIBRARY___put_analysis', put_analysis)
redis.register_function('__LIBRARY___get', get)
redis.register_function('__LIBRARY___invalidate_file', invalidate_file)
redis.register_function('__LIBRARY___invalidate_analysis', invalidate_analysis)
redis.register_function('__LIBRARY___clear', clear)
redis.register_function('__LIBRARY___list', list)
redis.register_function('__LIBRARY___invalidate_prefix', invalidate_prefix)
redis.register_function('__LIBRARY___stats', stats)
redis.register_function('__LIBRARY___bucket', bucket)
