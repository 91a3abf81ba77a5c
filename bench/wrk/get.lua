-- GET the URL's path, no credentials (GET /livez, GET /roles, the bare baseline).
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup = common.setup
done = common.done
