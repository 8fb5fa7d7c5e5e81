-- Pesapal IPNs (GET, as registered): each request names a distinct order `trk-<n>` /
-- `BENCH-<n>`; the orders are split between wrk's threads so no two requests share one.
-- With IPN_DUPLICATES set, requests cycle over IPN_ORDERS orders from IPN_FIRST (already settled).
local threads = {}
local orders = tonumber(os.getenv("IPN_ORDERS") or "1000")
local duplicates = os.getenv("IPN_DUPLICATES") ~= nil
local first = tonumber(os.getenv("IPN_FIRST") or "1")
local counter = 0

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local n
  if duplicates then
    n = first + (counter % orders)
  else
    n = (thread_index or 0) * math.floor(orders / 2) + counter
  end
  local path = string.format(
    "/payments/pesapal/ipn/?OrderTrackingId=trk-%d&OrderMerchantReference=BENCH-%d&OrderNotificationType=IPNCHANGE",
    n, n)
  return wrk.format("GET", path)
end
