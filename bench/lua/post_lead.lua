-- POST /leads/ as a browser would after GETting the service page: the hidden fields and CSRF
-- cookie come from bench/run.py; every request gets its own email and client IP (through
-- X-Forwarded-For from the benchmarking range 198.18.0.0/15, with TRUSTED_PROXY_COUNT=1).
local threads = {}
local counter = 0


function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

local form = os.getenv("LEAD_FORM")
local cookie = os.getenv("LEAD_COOKIE")

function request()
  counter = counter + 1
  local n = (thread_id or 0) * 1000000 + counter
  local body = form
    .. "&name=Bench+Customer+" .. n
    .. "&email=bench" .. n .. "%40example.co.tz"
    .. "&phone=%2B255712" .. string.format("%06d", n % 1000000)
    .. "&company=Bench+Ltd"
    .. "&message=Tunahitaji+tovuti+mpya"
  local ip = string.format("198.18.%d.%d", math.floor(n / 250) % 250, n % 250 + 1)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "csrftoken=" .. cookie,
    ["X-Forwarded-For"] = ip,
    ["Accept"] = "text/html",
  }, body)
end
