-- Shared by every bench script: data files written by bench/run.ts, thread numbering, and one
-- machine-readable result line printed by done().
local common = {}

function common.env(name, default)
  local value = os.getenv(name)
  if value == nil or value == "" then
    if default == nil then error("bench: environment variable " .. name .. " is not set") end
    return default
  end
  return value
end

function common.read_lines(name)
  local lines = {}
  for line in io.lines(common.env("BENCH_DATA_DIR") .. "/" .. name) do
    if line ~= "" then lines[#lines + 1] = line end
  end
  return lines
end

function common.fields(line)
  local fields = {}
  for field in line:gmatch("%S+") do fields[#fields + 1] = field end
  return fields
end

-- setup() runs once per thread in the main Lua state: number the threads 0, 1, ...
local next_thread_id = 0
function common.setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
end

-- Latencies are microseconds; bench/run.ts parses the BENCH_RESULT line.
function common.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"min":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end

-- Requests are built up front (in init) so wrk spends its time sending, not formatting.
function common.cycle(requests)
  local index = 0
  local count = #requests
  return function()
    index = index + 1
    if index > count then index = 1 end
    return requests[index]
  end
end

common.PREBUILT = 20000

return common
