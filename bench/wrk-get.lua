-- wrk: plain keep-alive GETs (e.g. /healthz); counts 200 replies as ok.
dofile(os.getenv("BENCH_DIR") .. "/wrk-report.lua")

function response(status, headers, body)
   count(status == 200, status, body)
end
