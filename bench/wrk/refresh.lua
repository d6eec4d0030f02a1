-- The refresh_token grant with rotation: each answer's new refresh token goes back into a queue and a later request
-- redeems it, so every connection keeps a chain of rotations going. The queue starts with the tokens in the file
-- $BENCH_TOKENS. A request that finds the queue empty (a chain broke) is counted as starved.
local queue = {}
local head, tail = 1, 0
for line in io.lines(os.getenv("BENCH_TOKENS")) do
  tail = tail + 1
  queue[tail] = line
end
starved = 0
local auth = os.getenv("BENCH_AUTH")

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  local token = queue[head]
  if token == nil then
    starved = starved + 1
    token = "starved"
  else
    queue[head] = nil
    head = head + 1
  end
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = auth,
  }, "grant_type=refresh_token&refresh_token=" .. urlencode(token))
end

function response(status, headers, body)
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token ~= nil then
    tail = tail + 1
    queue[tail] = token
  end
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("starved") end
  io.write(string.format("BENCH starved=%d\n", total))
end
