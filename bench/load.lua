-- wrk script for every `make bench` scenario (bench/run.sh sets the environment):
--   BENCH_GET_PATHS   file with one GET path per line; each request picks one at random; a
--                     line "path<TAB>token" sends Authorization: Bearer token
--   BENCH_POST_PATHS  file with one POST path per line (sends: a JSON message between a
--                     random pair of users 1..BENCH_USERS)
--   BENCH_WRITE_PCT   percentage of requests that are POSTs (0, 100, or a mix such as 10)
--   BENCH_RESULT      file that done() appends one JSON line of results to
--   BENCH_LABEL       scenario label written into that line
-- GET requests are formatted once in init(); a POST is formatted per request because its
-- pair of users and its content are random.

local function read_lines(path)
  local lines = {}
  if path == nil or path == "" then
    return lines
  end
  local f = assert(io.open(path, "r"))
  for line in f:lines() do
    if line ~= "" then
      lines[#lines + 1] = line
    end
  end
  f:close()
  return lines
end

local gets = {}
local posts = {}
local write_pct = tonumber(os.getenv("BENCH_WRITE_PCT") or "0")
local users = tonumber(os.getenv("BENCH_USERS") or "2")
local post_headers = { ["Content-Type"] = "application/json" }
local counter = 0
local tag = 0

function init(args)
  for i, line in ipairs(read_lines(os.getenv("BENCH_GET_PATHS"))) do
    local p, token = line:match("^([^\t]+)\t(.+)$")
    if p then
      gets[i] = wrk.format("GET", p, { ["Authorization"] = "Bearer " .. token })
    else
      gets[i] = wrk.format("GET", line)
    end
  end
  posts = read_lines(os.getenv("BENCH_POST_PATHS"))
  assert(#gets > 0 or write_pct >= 100, "no GET paths")
  assert(#posts > 0 or write_pct <= 0, "no POST paths")
  -- distinct random streams per thread
  tag = math.floor((os.clock() * 1e6) % 1e6) + tonumber(tostring({}):match("0x(%x+)"), 16) % 1e6
  math.randomseed(tag)
end

local function send_request()
  local sender = math.random(users)
  local receiver = math.random(users - 1)
  if receiver >= sender then
    receiver = receiver + 1
  end
  counter = counter + 1
  local body = string.format(
    '{"sender_id": %d, "receiver_id": %d, "content": "bench message %d-%d: hello, are we still on for lunch?"}',
    sender, receiver, tag, counter)
  return wrk.format("POST", posts[math.random(#posts)], post_headers, body)
end

function request()
  if write_pct > 0 and (write_pct >= 100 or math.random(100) <= write_pct) then
    return send_request()
  end
  return gets[math.random(#gets)]
end

function done(summary, latency, requests)
  local e = summary.errors
  local line = string.format(
    '{"label": "%s", "requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    os.getenv("BENCH_LABEL") or "?", summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout)
  local f = assert(io.open(assert(os.getenv("BENCH_RESULT")), "a"))
  f:write(line)
  f:close()
end
