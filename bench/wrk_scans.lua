-- wrk script: each thread sends its own slice of pre-generated requests, one per line of the file named by the
-- first argument: "<access token>\t<json body>" for POST /api/v1/checkins, or "-" for GET /healthz.
-- The third argument is "close" (each request on a new connection, as a reverse proxy such as nginx sends them by
-- default) or "keep-alive" (wrk's persistent connections).
-- At the end it prints the status counts of every thread and the latency percentiles (ms) for bench/checkins.py.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local path, nthreads, connection = args[1], tonumber(args[2]), args[3]
  local close = connection == "close" and {["Connection"] = "close"} or {}
  prepared = {}
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == id then
      if line == "-" then
        prepared[#prepared + 1] = wrk.format("GET", "/healthz", close)
      else
        local token, body = line:match("([^\t]+)\t(.*)")
        prepared[#prepared + 1] = wrk.format("POST", "/api/v1/checkins",
          {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json",
           ["Connection"] = close["Connection"]}, body)
      end
    end
    i = i + 1
  end
  sent, created, ok, other = 0, 0, 0, 0
end

function request()
  sent = sent + 1
  return prepared[((sent - 1) % #prepared) + 1]
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  elseif status == 200 then
    ok = ok + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local c, o, x = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("ok")
    x = x + t:get("other")
  end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d seconds=%.3f created=%d ok=%d other=%d connect=%d read=%d write=%d " ..
    "timeout=%d p50=%.3f p99=%.3f max=%.3f\n", summary.requests, summary.duration / 1e6, c, o, x, e.connect,
    e.read, e.write, e.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
