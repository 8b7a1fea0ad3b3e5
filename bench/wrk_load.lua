-- The bench's wrk script: POSTs each request of the list in turn (connection after connection),
-- `[<id>]` in a body made unique per request, and prints the figures as one JSON line at the end.
-- The list comes from the file named by WRK_REQUESTS: a line per request, path TAB JSON body,
-- then any headers of its own, each TAB "Name: value".
local requests = {}
for line in io.lines(os.getenv("WRK_REQUESTS")) do
  local fields = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do fields[#fields + 1] = field end
  if #fields >= 2 and fields[1] ~= "" then
    local headers = { ["Content-Type"] = "application/json" }
    for i = 3, #fields do
      local name, value = fields[i]:match("^([^:]+):%s*(.*)$")
      if name then headers[name] = value end
    end
    requests[#requests + 1] = { path = fields[1], body = fields[2], headers = headers }
  end
end
local prefix = os.getenv("WRK_ID_PREFIX") or "bench"
local counter = 0

request = function()
  counter = counter + 1
  local r = requests[(counter % #requests) + 1]
  local body = r.body:gsub("%[<id>%]", prefix .. "-" .. counter)
  return wrk.format("POST", r.path, r.headers, body)
end

done = function(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    '\nWRK_RESULT {"requests":%d,"durationUs":%d,"connectErrors":%d,"readErrors":%d,' ..
      '"writeErrors":%d,"timeouts":%d,"non2xx":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
