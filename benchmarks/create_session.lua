-- wrk script: POST /v2/customer_sessions with a ~1 KB body (the seed's example, full
-- customer_history, metadata with a few keys).
--
--   IMPRINT_API_KEY=isk_test_... wrk -t2 -c64 -d20s --latency -s create_session.lua \
--       http://127.0.0.1:8000 -- new|existing|mix
--
-- new       every request names a customer never seen before (unique partner_customer_id,
--           email and phone), so the service creates a customer and a session;
-- existing  requests reuse 100 customers (partner_customer_id, email and phone fixed per
--           customer), so the service finds the customer and creates a session;
-- mix       each request is one or the other, half and half.
--
-- done() prints one "BENCH_JSON {...}" line that benchmarks/run parses.

local EXISTING_CUSTOMERS = 100
local started = 0

function setup(thread)
  -- Runs in the main state once per thread: give each thread an id unique to this wrk run,
  -- so two runs (warm-up, measured) never mint the same "new" customer.
  if started == 0 then
    math.randomseed(os.time())
  end
  started = started + 1
  thread:set("tid", string.format("%x%04x-%d", os.time(), math.random(0, 0xffff), started))
end

local BODY = [[{"partner_customer_id": "%s", "transaction_amount": 34000, ]]
  .. [["transaction_currency": "USD", "customer_history": {"email": "%s", "phone": "%s", ]]
  .. [["first_name": "John", "last_name": "Doe", "preferred_language": "en", "address": ]]
  .. [[{"street_line1": "123 Main St", "street_line2": "Apt 4B", "city": "San Francisco", ]]
  .. [["state": "CA", "postal_code": "94105", "country": "USA"}, "account_tenure": 13, ]]
  .. [["ltv_amount": 34000, "ltv_currency": "USD", "loyalty_tier": "GOLD", ]]
  .. [["account_created_at": "2025-02-13T19:08:07.000Z", "transaction_count": 100}, ]]
  .. [["source": "web_checkout", "metadata": {"store_number": "123", "channel": "web", ]]
  .. [["order_reference": "ORD-2025-000123456", "cart_id": "cart_7f3a9c2e41b84d0f9e6a", ]]
  .. [["campaign": "spring_sale_2025", ]]
  .. [["referrer": "https://www.example.com/checkout/cart?step=payment", ]]
  .. [["user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 ]]
  .. [[(KHTML, like Gecko) Version/17.4 Safari/605.1.15"}}]]

local scenario, headers
local counter = 0

function init(args)
  scenario = args[1] or "new"
  if scenario ~= "new" and scenario ~= "existing" and scenario ~= "mix" then
    error("scenario must be new, existing or mix, not " .. scenario)
  end
  local key = os.getenv("IMPRINT_API_KEY")
  if not key or key == "" then
    error("set IMPRINT_API_KEY to the sandbox API key")
  end
  math.randomseed(os.time() + #tid * 7919 + (tonumber(tid:match("%-(%d+)$")) or 0))
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key }
end

function request()
  local pcid, email, phone
  if scenario == "existing" or (scenario == "mix" and math.random() < 0.5) then
    local k = math.random(1, EXISTING_CUSTOMERS)
    pcid = "CUST_" .. k
    email = "customer" .. k .. "@example.com"
    phone = string.format("+14155%06d", k)
  else
    counter = counter + 1
    pcid = "NEW_" .. tid .. "_" .. counter
    email = "c." .. tid .. "." .. counter .. "@example.com"
    -- Random, so the validator's 4,096-entry cache misses as it would for new customers.
    phone = string.format("+14155%06d", math.random(0, 999999))
  end
  return wrk.format("POST", "/v2/customer_sessions", headers, string.format(BODY, pcid, email, phone))
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
