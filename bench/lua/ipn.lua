-- Pesapal IPNs (GET, as registered): each request names a distinct order `trk-<n>` /
-- `BENCH-<n>`, n from IPN_OFFSET + 1; the IPN_ORDERS orders are split between wrk's threads so
-- no two requests share one. With IPN_DUPLICATES set, requests cycle over IPN_ORDERS orders from
-- IPN_FIRST (already settled). IPN_PATH: the IPN view (default) or the bare settlement.
local threads = {}
local orders = tonumber(os.getenv("IPN_ORDERS") or "1000")
local offset = tonumber(os.getenv("IPN_OFFSET") or "0")
local duplicates = os.getenv("IPN_DUPLICATES") ~= nil
local first = tonumber(os.getenv("IPN_FIRST") or "1")
local path = os.getenv("IPN_PATH") or "/payments/pesapal/ipn/"
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
    n = offset + (thread_index or 0) * math.floor(orders / 2) + counter
  end
  return wrk.format("GET", string.format(
    "%s?OrderTrackingId=trk-%d&OrderMerchantReference=BENCH-%d&OrderNotificationType=IPNCHANGE",
    path, n, n))
end
