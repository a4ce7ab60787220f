-- wrk script of the soak (tests/soak/soak.py): a 90/10 read/write mix on a seeded database.
--   60% a page of 20 messages of a random conversation, 20% a user's conversations,
--   10% one conversation, 10% a send between two random users.
-- Environment: SOAK_USERS, SOAK_CONVERSATIONS (the seeded ranges), SOAK_DELAY_MS (pause
-- before each request on a connection, fractional values averaged; 0 = closed loop, as fast
-- as possible). done() prints one machine-readable SOAK line.
local users = tonumber(os.getenv("SOAK_USERS") or "1000")
local convs = tonumber(os.getenv("SOAK_CONVERSATIONS") or "2000")
local delay_ms = tonumber(os.getenv("SOAK_DELAY_MS") or "0")
local json_headers = { ["Content-Type"] = "application/json" }
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end

function init(args)
  math.randomseed(os.time() * 100 + (thread_id or 0))
end

function request()
  local r = math.random(100)
  if r <= 10 then
    local a = math.random(users)
    local b = math.random(users - 1)
    if b >= a then b = b + 1 end
    local body = string.format('{"sender_id":%d,"receiver_id":%d,"content":"soak message %d"}', a, b, r)
    return wrk.format("POST", "/api/messages/", json_headers, body)
  elseif r <= 70 then
    return wrk.format("GET", "/api/messages/conversation/" .. math.random(convs) .. "?limit=20")
  elseif r <= 90 then
    return wrk.format("GET", "/api/conversations/user/" .. math.random(users) .. "?limit=20")
  end
  return wrk.format("GET", "/api/conversations/" .. math.random(convs))
end

if delay_ms > 0 then
  function delay()
    local base = math.floor(delay_ms)
    if math.random() < delay_ms - base then return base + 1 end
    return base
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("SOAK requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d errors=%d status_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
