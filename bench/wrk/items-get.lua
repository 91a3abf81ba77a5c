-- Authenticated GET /items/{id}: a random seeded item, the tokens of many users in turn
-- (BENCH_TOKENS names another token file, such as the provider JWTs).
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup = common.setup
done = common.done

local next_request

function init(args)
  math.randomseed(1000 + thread_id)
  local tokens = common.read_lines(common.env("BENCH_TOKENS", "tokens.txt"))
  local min_id = tonumber(common.env("BENCH_ITEM_MIN"))
  local max_id = tonumber(common.env("BENCH_ITEM_MAX"))
  local requests = {}
  for i = 1, common.PREBUILT do
    local token = common.fields(tokens[(i % #tokens) + 1])[1]
    requests[i] = wrk.format("GET", "/items/" .. math.random(min_id, max_id),
      { ["Authorization"] = "Bearer " .. token })
  end
  next_request = common.cycle(requests)
end

function request()
  return next_request()
end
