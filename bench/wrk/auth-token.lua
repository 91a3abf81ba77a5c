-- POST /auth/token (password login, Argon2id verification) for a pool of users in turn.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup = common.setup
done = common.done

local next_request

function init(args)
  local password = common.env("BENCH_PASSWORD")
  local requests = {}
  for i, username in ipairs(common.read_lines("logins.txt")) do
    requests[i] = wrk.format("POST", "/auth/token", { ["Content-Type"] = "application/json" },
      '{"username":"' .. username .. '","password":"' .. password .. '"}')
  end
  next_request = common.cycle(requests)
end

function request()
  return next_request()
end
