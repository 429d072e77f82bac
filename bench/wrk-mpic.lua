-- wrk: POST /mpic at $MPIC_N perspectives, check type $MPIC_CHECK (caa or
-- dcv with method $MPIC_METHOD: acme-dns-01 or acme-http-01), cycling over
-- $MPIC_NAMES targets nX.bench.test so cohorts vary. A reply is ok when it
-- is 200 with "is_valid":true.
dofile(os.getenv("BENCH_DIR") .. "/wrk-report.lua")

local n = tonumber(os.getenv("MPIC_N") or "3")
local check = os.getenv("MPIC_CHECK") or "caa"
local method = os.getenv("MPIC_METHOD") or ""
local names = tonumber(os.getenv("MPIC_NAMES") or "256")
local hash = "7FwkJPsKf-TH54wu4eiIFA3nhzYaevsL7953ihy-tpo"
local token = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
local keyauth = token .. ".NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
local bodies = {}
local i = 0

function init(args)
   local orch = string.format('"orchestration_parameters":' ..
      '{"perspective_count":%d}', n)
   for k = 0, names - 1 do
      local target = string.format("n%d.bench.test", k)
      local params
      if check == "caa" then
         params = '"caa_check_parameters":{"certificate_type":' ..
            '"tls-server","caa_domains":["ca.example"]}'
      elseif method == "acme-http-01" then
         target = "web.bench.test"
         params = '"dcv_check_parameters":{"validation_method":' ..
            '"acme-http-01","token":"' .. token ..
            '","key_authorization":"' .. keyauth .. '"}'
      else
         params = '"dcv_check_parameters":{"validation_method":' ..
            '"acme-dns-01","key_authorization_hash":"' .. hash .. '"}'
      end
      bodies[k + 1] = wrk.format("POST", "/mpic",
         {["Content-Type"] = "application/json"},
         string.format('{"check_type":"%s","domain_or_ip_target":"%s",' ..
            '"trace_identifier":"bench-%d",%s,%s}', check, target, k, orch,
            params))
   end
   i = (id or 0) * 97
end

function request()
   i = i + 1
   return bodies[(i % names) + 1]
end

function response(status, headers, body)
   count(status == 200 and string.find(body, '"is_valid":%s*true') ~= nil,
      status, body)
end
