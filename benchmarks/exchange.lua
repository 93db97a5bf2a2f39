-- wrk script: POST /v2/client/exchange, each request redeeming a client_secret never used.
--
--   wrk -t2 -c64 -d20s --latency -s exchange.lua http://127.0.0.1:8000 -- SECRETS_FILE THREADS
--
-- SECRETS_FILE holds one client_secret a line (benchmarks/run writes it: the exchange pool);
-- THREADS is wrk's -t. Thread k (0-based) takes lines k+1, k+1+THREADS, ... in order, so every
-- request of every connection redeems a different secret. A thread that runs out sends
-- "exhausted" (answered 400/401, so the run fails) and counts it; done() reports the count.
-- done() prints one "BENCH_JSON {...}" line that benchmarks/run parses.

local threads = {}

function setup(thread)
  thread:set("index", #threads)
  threads[#threads + 1] = thread
end

local secrets, next_secret, headers = {}, 1, nil
exhausted = 0

function init(args)
  local path = args[1] or error("usage: -- SECRETS_FILE THREADS")
  local count = tonumber(args[2]) or error("usage: -- SECRETS_FILE THREADS")
  local i = 0
  for line in io.lines(path) do
    if i % count == index then
      secrets[#secrets + 1] = line
    end
    i = i + 1
  end
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  local secret = secrets[next_secret]
  if secret == nil then
    exhausted = exhausted + 1
    secret = "exhausted"
  else
    next_secret = next_secret + 1
  end
  return wrk.format("POST", "/v2/client/exchange", headers, '{"client_secret": "' .. secret .. '"}')
end

function done(summary, latency, requests)
  local e = summary.errors
  local short = 0
  for _, thread in ipairs(threads) do
    short = short + thread:get("exhausted")
  end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "errors_connect": %d, "errors_read": %d, '
      .. '"errors_write": %d, "errors_timeout": %d, "errors_status": %d, "p50_us": %d, '
      .. '"p90_us": %d, "p99_us": %d, "p999_us": %d, "max_us": %d, "mean_us": %.1f, '
      .. '"exhausted": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean, short))
end
