-- Authenticated POST /items: a new, unique name every time.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup = common.setup
done = common.done

local tokens, nonce
local counter = 0

function init(args)
  tokens = {}
  for i, line in ipairs(common.read_lines("tokens.txt")) do
    tokens[i] = "Bearer " .. common.fields(line)[1]
  end
  nonce = common.env("BENCH_NONCE") .. "-" .. thread_id
end

function request()
  counter = counter + 1
  local body = '{"name":"bench ' .. nonce .. "-" .. counter ..
    '","description":"Created by the benchmark to measure POST /items"}'
  return wrk.format("POST", "/items", {
    ["Authorization"] = tokens[(counter % #tokens) + 1],
    ["Content-Type"] = "application/json",
  }, body)
end
