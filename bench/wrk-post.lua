-- wrk: POSTs the JSON body in $WRK_BODY; a reply is ok when it is 200 and
-- contains the Lua pattern $WRK_EXPECT.
dofile(os.getenv("BENCH_DIR") .. "/wrk-report.lua")

wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/json"
local expect = os.getenv("WRK_EXPECT") or ""

function response(status, headers, body)
   count(status == 200 and string.find(body, expect) ~= nil, status, body)
end
