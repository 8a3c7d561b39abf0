-- Seeds exactly <count> entries through the API (POST /), spread over the
-- threads, and writes the id of each created entry to
-- <ids file>.part.<thread>.  Not a measurement: a thread that has sent its
-- share keeps its connections busy with GET /bench-noop (204) until the
-- last of its creates is answered, then stops; the run ends when all
-- have (give wrk a -d long enough for all of them).
--
--   wrk -t<n> ... -s bench/seed.lua <url of the collection> -- \
--       <count> <n> <ids file> [namespaces]
--
-- Entry i gets company_namespace ["ns-<i mod namespaces>"] (10 unless
-- given) and a workorder and client made from i, so filters have
-- something to select.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local threads, counter = {}, 0

function setup(thread)
    counter = counter + 1
    thread:set("id", counter)
    threads[#threads + 1] = thread
end

local share, n, namespaces, out
local sent, answered = 0, 0
created, failed = 0, 0      -- globals: done() reads them with thread:get()
local noop, verified

function init(args)
    local count = tonumber(args[1])
    n = tonumber(args[2])
    namespaces = tonumber(args[4] or "10")
    share = math.floor(count / n) + ((id <= count % n) and 1 or 0)
    out = assert(io.open(args[3] .. ".part." .. id, "w"))
    wrk.headers["Content-Type"] = "application/json"
    noop = wrk.format("GET", "/bench-noop", {}, nil)
end

function request()
    -- wrk calls request() once more in thread 1 to check the request
    -- before the run: that one is never sent
    if id == 1 and not verified then
        verified = true
        return noop
    end
    if sent >= share then
        if share == 0 then
            common.finish(id, n)
        end
        return noop
    end
    local i = id + sent * n
    sent = sent + 1
    local body = string.format('{"workorder":"%024x","client":"%024x",'
        .. '"access_level":"comment","allowed_actions":["view","comment"],'
        .. '"expiry_date":"2027-01-31T18:00:00+01:00",'
        .. '"portal_settings":{"theme":"dark"},'
        .. '"company_namespace":["ns-%d"]}',
        i, i % 1000, i % namespaces)
    return wrk.format("POST", nil, nil, body)
end

function response(status, headers, body)
    if status == 204 then
        return
    end
    answered = answered + 1
    if status == 201 then
        local loc = headers["Location"] or headers["location"] or ""
        out:write(loc:match("([0-9a-f]+)$") or "", "\n")
        created = created + 1
    else
        failed = failed + 1
        if failed <= 3 then
            io.stderr:write("seed: ", status, " ", body, "\n")
        end
    end
    if answered >= share then
        out:close()
        common.finish(id, n)
    end
end

function done(summary, latency, requests)
    local c, f = 0, 0
    for _, t in ipairs(threads) do
        c = c + t:get("created")
        f = f + t:get("failed")
    end
    io.write(string.format("SEED created=%d failed=%d seconds=%.3f\n",
        c, f, summary.duration / 1e6))
end
