-- POST /auth/refresh with rotation: every answer hands over the next refresh token, which
-- goes back into this thread's queue. Needs more tokens per thread than connections.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup = common.setup
done = common.done

local queue = {}
local head, tail = 1, 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  local threads = tonumber(common.env("BENCH_THREADS"))
  for i, token in ipairs(common.read_lines("refresh.txt")) do
    if (i - 1) % threads == thread_id then
      tail = tail + 1
      queue[tail] = token
    end
  end
end

function request()
  local token = "queue-exhausted"
  if head <= tail then
    token = queue[head]
    queue[head] = nil
    head = head + 1
  end
  return wrk.format("POST", "/auth/refresh", headers, '{"refresh_token":"' .. token .. '"}')
end

function response(status, response_headers, body)
  if status == 200 then
    local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if token then
      tail = tail + 1
      queue[tail] = token
    end
  end
end
