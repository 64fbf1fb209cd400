-- wrk script for scripts/bench-load.py: each request rolls back a different
-- executed plan (uuids, one per line, in the file named by $PLANS), spread
-- over wrk's threads so no two requests ask for the same plan.
local next_id = 1
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  uuids = {}
  for line in io.lines(os.getenv("PLANS")) do
    uuids[#uuids + 1] = line
  end
  stride = tonumber(os.getenv("THREADS"))
  idx = id
  body = os.getenv("BODY") or "{}"
end

function request()
  local u = uuids[idx]
  if u == nil then
    -- Every plan was asked for: stop this thread rather than measure refusals.
    wrk.thread:stop()
    u = uuids[1]
  end
  idx = idx + stride
  return wrk.format("POST", "/v1/action_plans/" .. u .. "/rollback", {["Content-Type"] = "application/json"}, body)
end
