-- Authenticated GET /items?limit=20 filtered by owner and a name substring.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup = common.setup
done = common.done

local next_request

function init(args)
  math.randomseed(2000 + thread_id)
  local tokens = common.read_lines("tokens.txt")
  local min_user = tonumber(common.env("BENCH_USER_MIN"))
  local max_user = tonumber(common.env("BENCH_USER_MAX"))
  local requests = {}
  for i = 1, common.PREBUILT do
    local token = common.fields(tokens[(i % #tokens) + 1])[1]
    local path = "/items?limit=20&user_id=" .. math.random(min_user, max_user) ..
      "&name=" .. math.random(0, 9)
    requests[i] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
  end
  next_request = common.cycle(requests)
end

function request()
  return next_request()
end
