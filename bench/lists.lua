-- Lists of 25 that go round the filters, for the mixed run of bench.sh:
-- no filter, status=, company_namespace=, workorder=, client= and ten
-- _id[], in turn, each time with other values, so that the lists of the
-- run read the whole index the way clients would, not one answer over
-- and over.
--
--   wrk -t<n> ... -s bench/lists.lua <url of the collection> -- \
--       <ids file> <count>
--
-- <ids file>: the ids of the set (one a line), for _id[]; <count>: the
-- entries seed.lua made there. Entry i of seed.lua has workorder i
-- (workorder= selects one entry), client i mod 1000 (client= selects
-- count / 1000) and namespace ns-<i mod 10> (a tenth); status= selects
-- in_progress or pending, whatever the writes made of them.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")
done = common.done

local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("id", counter)
end

local LISTS = 600           -- requests built a thread, then gone round
local reqs, k = {}, 0

function init(args)
    local ids = {}
    for line in io.lines(args[1]) do
        if line ~= "" then
            ids[#ids + 1] = line
        end
    end
    local count = tonumber(args[2])
    assert(#ids > 0 and count and count > 0,
           "lists.lua: -- <ids file> <count>")
    local base = wrk.path:gsub("%?.*$", "") .. "?per_page=25"

    -- the same sequence every run, another one each thread
    math.randomseed(id)
    local function pick(n)
        return math.random(n)
    end

    for j = 0, LISTS - 1 do
        local kind, q = j % 6, ""
        if kind == 1 then
            q = (pick(2) == 1) and "&status=in_progress" or "&status=pending"
        elseif kind == 2 then
            q = string.format("&company_namespace=ns-%d", pick(10) - 1)
        elseif kind == 3 then
            q = string.format("&workorder=%024x", pick(count))
        elseif kind == 4 then
            q = string.format("&client=%024x", pick(count) % 1000)
        elseif kind == 5 then
            local t = {}
            for m = 1, 10 do
                t[m] = "&_id[]=" .. ids[pick(#ids)]
            end
            q = table.concat(t)
        end
        reqs[#reqs + 1] = wrk.format("GET", base .. q, nil, nil)
    end
end

function request()
    k = k % #reqs + 1
    return reqs[k]
end
