-- The authorization_code grant: every request redeems the next code from the file $BENCH_CODES (one per line, minted
-- beforehand through the browser flow). With -t1 one Lua state serves every connection, so a plain counter suffices.
-- Codes running out is counted (and each such request sends an unknown code, answered 400 and counted as non-2xx).
local codes = {}
for line in io.lines(os.getenv("BENCH_CODES")) do codes[#codes + 1] = line end
local next_code = 1
exhausted = 0
local redirect = os.getenv("BENCH_REDIRECT")
local auth = os.getenv("BENCH_AUTH")

function request()
  local code = codes[next_code]
  next_code = next_code + 1
  if code == nil then
    exhausted = exhausted + 1
    code = "exhausted"
  end
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = auth,
  }, "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" .. redirect)
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("exhausted") end
  io.write(string.format("BENCH exhausted=%d\n", total))
end
