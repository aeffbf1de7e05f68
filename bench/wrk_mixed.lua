-- wrk script of bench/mixed.py: each thread sends its own slice of pre-generated requests, each line of the file
-- named by the first argument used once: "<kind>\t<method>\t<path>\t<access token>\t<json body or empty>", or "-"
-- for GET /healthz (those lines are reused). The third argument is "close" (a new connection per request, as nginx
-- sends them) or "keep-alive". Each mix request carries X-Request-ID "<kind>x<line>", which the API echoes, so the
-- response is matched to its request: every mix answer is logged as "<kind> <status> <ms>" to "<fourth argument><thread>"
-- (a non-2xx answer also with its body), and a thread that has used all its lines stops rather than repeat a write.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } baodao_timespec;
  int clock_gettime(int clock_id, baodao_timespec *tp);
]]
local clock = ffi.new("baodao_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local path, nthreads, connection, log_prefix = args[1], tonumber(args[2]), args[3], args[4]
  local close = connection == "close" and "close" or nil
  prepared, request_ids, healthz = {}, {}, false
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == id then
      if line == "-" then
        healthz = true
        prepared[#prepared + 1] = wrk.format("GET", "/healthz", {["Connection"] = close})
      else
        local kind, method, target, token, body = line:match("^(%w+)\t(%u+)\t([^\t]+)\t([^\t]+)\t(.*)$")
        local request_id = kind .. "x" .. i
        local headers = {["Authorization"] = "Bearer " .. token, ["X-Request-ID"] = request_id,
                         ["Connection"] = close}
        if body ~= "" then
          headers["Content-Type"] = "application/json"
        else
          body = nil
        end
        prepared[#prepared + 1] = wrk.format(method, target, headers, body)
        request_ids[#prepared] = request_id
      end
    end
    i = i + 1
  end
  spare = wrk.format("GET", "/healthz", {["Connection"] = close})
  log = io.open(log_prefix .. id, "w")
  started = {}
  sent, ok, other, unmatched, exhausted = 0, 0, 0, 0, 0
end

function request()
  if healthz then
    sent = sent + 1
    return prepared[((sent - 1) % #prepared) + 1]
  end
  if sent >= #prepared then
    -- Never repeat a sign-up or a claim: stop, and send a harmless request the loop may still write.
    exhausted = 1
    wrk.thread:stop()
    return spare
  end
  sent = sent + 1
  started[request_ids[sent]] = now_ms()
  return prepared[sent]
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    other = other + 1
  end
  if healthz then
    return
  end
  local request_id = headers["X-Request-ID"]
  local began = request_id and started[request_id]
  if not began then
    unmatched = unmatched + 1
    return
  end
  started[request_id] = nil
  local kind = request_id:match("^(%w-)x%d+$")
  if status >= 200 and status < 300 then
    log:write(kind, " ", status, " ", string.format("%.3f", now_ms() - began), "\n")
  else
    log:write(kind, " ", status, " ", string.format("%.3f", now_ms() - began), " ",
              (body or ""):sub(1, 300):gsub("%s", "_"), "\n")
  end
  -- Flushed as it goes: a stopped thread's state is never closed.
  log:flush()
end

function done(summary, latency, requests)
  local o, x, u, e = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    x = x + t:get("other")
    u = u + t:get("unmatched")
    e = e + t:get("exhausted")
  end
  local s = summary.errors
  io.write(string.format("RESULT requests=%d seconds=%.3f ok=%d other=%d unmatched=%d exhausted=%d connect=%d " ..
    "read=%d write=%d timeout=%d p50=%.3f p99=%.3f max=%.3f\n", summary.requests, summary.duration / 1e6, o, x, u,
    e, s.connect, s.read, s.write, s.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
