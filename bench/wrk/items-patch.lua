-- Authenticated PATCH /items/{id}: the owner changes the description of one of their items.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup = common.setup
done = common.done

local next_request

function init(args)
  math.randomseed(3000 + thread_id)
  local tokens = common.read_lines("tokens.txt")
  local requests = {}
  for i = 1, common.PREBUILT do
    local f = common.fields(tokens[(i % #tokens) + 1])
    local item = math.random(tonumber(f[3]), tonumber(f[4]))
    requests[i] = wrk.format("PATCH", "/items/" .. item, {
      ["Authorization"] = "Bearer " .. f[1],
      ["Content-Type"] = "application/json",
    }, '{"description":"Patched by the benchmark, request ' .. i .. '"}')
  end
  next_request = common.cycle(requests)
end

function request()
  return next_request()
end
