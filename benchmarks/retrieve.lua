-- wrk script: GET /v2/customer_sessions/{id}, each request a random session of a pool.
--
--   IMPRINT_API_KEY=isk_test_... wrk -t2 -c64 -d20s --latency -s retrieve.lua \
--       http://127.0.0.1:8000 -- IDS_FILE
--
-- IDS_FILE holds one session id a line (benchmarks/run writes it: the retrieve pool).
-- done() prints one "BENCH_JSON {...}" line that benchmarks/run parses.

local started = 0

function setup(thread)
  started = started + 1
  thread:set("seed", started)
end

local ids, headers = {}, nil

function init(args)
  local path = args[1] or error("usage: -- IDS_FILE")
  for line in io.lines(path) do
    ids[#ids + 1] = line
  end
  if #ids == 0 then
    error("no ids in " .. path)
  end
  local key = os.getenv("IMPRINT_API_KEY")
  if not key or key == "" then
    error("set IMPRINT_API_KEY to the sandbox API key")
  end
  math.randomseed(os.time() * 31 + seed)
  headers = { ["Authorization"] = "Bearer " .. key }
end

function request()
  return wrk.format("GET", "/v2/customer_sessions/" .. ids[math.random(1, #ids)], headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "errors_connect": %d, "errors_read": %d, '
      .. '"errors_write": %d, "errors_timeout": %d, "errors_status": %d, "p50_us": %d, '
      .. '"p90_us": %d, "p99_us": %d, "p999_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
