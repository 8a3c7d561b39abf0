-- POST / with the same valid body every time: each request creates a new
-- entry (the server makes the id), so the request can stay static.
--
--   wrk ... -s bench/post.lua http://127.0.0.1:18500/api/v1/workorder-portal

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
done = dofile(dir .. "common.lua").done

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"workorder":"507f1f77bcf86cd799439012",'
    .. '"client":"507f1f77bcf86cd799439013","access_level":"comment",'
    .. '"allowed_actions":["view","comment"],'
    .. '"expiry_date":"2027-01-31T18:00:00+01:00",'
    .. '"portal_settings":{"theme":"dark"},"company_namespace":["ns-post"]}'
