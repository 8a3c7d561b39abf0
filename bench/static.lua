-- A static request (the URL given to wrk), answered as fast as wrk can:
-- the ceiling and the lists.  Only adds the summary line.
--
--   wrk ... -s bench/static.lua http://127.0.0.1:18500/ceiling

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
done = dofile(dir .. "common.lua").done
