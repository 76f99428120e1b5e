-- wasm-lab: ends wrk's output with one line of JSON that lab.bench parses (the last stdout line).
-- Times are in microseconds, as wrk measures them. Use: wrk --latency -s report.lua URL

local function count(value)
  -- wrk hands over 64-bit counters as Lua numbers; an empty histogram's minimum is 2^64 - 1
  if value == nil or value ~= value or value < 0 or value >= 2^53 then
    return "0"
  end
  return string.format("%d", value)
end

local function real(value)
  if value == nil or value ~= value or value == math.huge or value == -math.huge then
    return "0"
  end
  return string.format("%.3f", value)
end

local function object(pairs_in_order)
  local parts = {}
  for _, pair in ipairs(pairs_in_order) do
    parts[#parts + 1] = string.format('"%s":%s', pair[1], pair[2])
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local errors = summary.errors
  local answered = summary.requests > 0
  local function percentile(p)
    return answered and count(latency:percentile(p)) or "0"
  end
  io.write(object({
    {"requests", count(summary.requests)},
    {"duration_us", count(summary.duration)},
    {"bytes", count(summary.bytes)},
    {"errors", object({
      {"connect", count(errors.connect)},
      {"read", count(errors.read)},
      {"write", count(errors.write)},
      {"status", count(errors.status)},
      {"timeout", count(errors.timeout)},
    })},
    {"latency_us", object({
      {"min", answered and count(latency.min) or "0"},
      {"max", count(latency.max)},
      {"mean", real(latency.mean)},
      {"stdev", real(latency.stdev)},
      {"p50", percentile(50)},
      {"p75", percentile(75)},
      {"p90", percentile(90)},
      {"p99", percentile(99)},
      {"p999", percentile(99.9)},
    })},
  }), "\n")
  io.stdout:flush()
end
