-- Shared by the wrk scripts of bench/: per-thread counters and one
-- machine-readable result line ("WRKJSON {...}") printed by done().
-- Counters: ok (reply as expected), bad (anything else), plus the first
-- unexpected reply for diagnosis.

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

ok, bad, first_bad = 0, 0, nil

function count(good, status, body)
   if good then
      ok = ok + 1
   else
      bad = bad + 1
      if first_bad == nil then
         first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 300)
      end
   end
end

local function jstr(s)
   if s == nil then
      return "null"
   end
   return '"' .. s:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end) .. '"'
end

function done(summary, latency, requests)
   local tok, tbad, fb = 0, 0, nil
   for _, t in ipairs(threads) do
      tok = tok + (t:get("ok") or 0)
      tbad = tbad + (t:get("bad") or 0)
      fb = fb or t:get("first_bad")
   end
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      'WRKJSON {"requests":%d,"duration_s":%.3f,"rps":%.1f,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,' ..
      '"timeout":%d},"ok":%d,"bad":%d,"first_bad":%s}\n',
      summary.requests, secs, summary.requests / secs,
      latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean,
      e.connect, e.read, e.write, e.status, e.timeout, tok, tbad, jstr(fb)))
end
