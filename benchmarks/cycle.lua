-- wrk script: replay pre-built requests, each used once (every openkms request carries its own
-- signature nonce, so a replay would be refused). The Python harness writes one request per
-- line: METHOD <TAB> PATH <TAB> headers as name\1value\1name\1value... <TAB> body.
-- Each wrk thread takes every Nth line, so threads never share a nonce.

local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

local function split(text, sep)
  local out, from = {}, 1
  while true do
    local at = string.find(text, sep, from, true)
    if not at then
      table.insert(out, string.sub(text, from))
      return out
    end
    table.insert(out, string.sub(text, from, at - 1))
    from = at + #sep
  end
end

function init(args)
  local file, count = args[1], tonumber(args[2])
  local requests, n = {}, 0
  local line_no = 0
  for line in io.lines(file) do
    if line_no % count == index then
      local f = split(line, "\t")
      local headers = {}
      if f[3] ~= "" then
        local h = split(f[3], "\1")
        for i = 1, #h, 2 do headers[h[i]] = h[i + 1] end
      end
      n = n + 1
      requests[n] = wrk.format(f[1], f[2], headers, f[4] ~= "" and f[4] or nil)
    end
    line_no = line_no + 1
  end
  pool, size, next_request = requests, n, 0
end

function request()
  next_request = next_request + 1
  -- Past the end of the pool the requests wrap around and the server refuses them as replays;
  -- the harness counts those as errors and says so.
  return pool[(next_request - 1) % size + 1]
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
