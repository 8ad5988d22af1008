-- wrk script of the REST load benchmarks (server_bench.sh, pg_nodes_bench.sh): durable commands
-- on bench/load.flow, case ids unique per wrk thread and request ("<prefix>T<thread>-<n>").
--   ONEVISIT_LOAD_KIND    start: POST /api/cases; accept: accept the registration item of the
--                         cases a start run with the same prefix made, in the same order
--   ONEVISIT_LOAD_PREFIX  put before each case id (pg_nodes_bench.sh: one per node)
local kind = os.getenv("ONEVISIT_LOAD_KIND") or "start"
local prefix = os.getenv("ONEVISIT_LOAD_PREFIX") or ""
local threads = {}
function setup(thread) table.insert(threads, thread); thread:set("id", #threads) end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local counter = 0
request = function()
  counter = counter + 1
  local case_id = prefix .. "T" .. id .. "-" .. counter
  if kind == "start" then
    return wrk.format(nil, "/api/cases", nil, '{"bundle":"bench","case_id":"' .. case_id .. '","form":{"company_name":"小馆"}}')
  end
  return wrk.format(nil, "/api/cases/" .. case_id .. "/items/registration/events/accept", nil, "{}")
end
