-- One rate limiter check, GCRA, on the server's clock: the same arithmetic as
-- the local limiter, in microseconds.
--
-- KEYS[1]  the bucket: its theoretical arrival time (TAT), in microseconds
-- ARGV[1]  the refill interval, microseconds per token (fractional)
-- ARGV[2]  the burst, microseconds: interval * max_tokens
-- ARGV[3]  the longest wait a call may take for its token, microseconds
-- ARGV[4]  "1" for a fixed quota: a clock that stands at zero, no expiry
--
-- Returns {1, wait} when a token is taken (wait > 0: it comes that many
-- microseconds from now, reserved), {0, wait} when refused (wait: until a
-- token would come).
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local fixed = ARGV[4] == "1"
local now = 0
if not fixed then
  local time = redis.call("TIME")
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end
local tat = tonumber(redis.call("GET", KEYS[1])) or now
if tat < now then
  tat = now
end
local next = tat + interval
local wait = next - now - burst
if wait > max_wait then
  return {0, math.ceil(wait)}
end
if wait < 0 then
  wait = 0
end
if fixed then
  redis.call("SET", KEYS[1], string.format("%.3f", next))
else
  -- Gone when the bucket is full again: an idle bucket costs no memory.
  redis.call("SET", KEYS[1], string.format("%.3f", next), "PX", math.max(1, math.ceil((next - now) / 1000)))
end
return {1, math.ceil(wait)}
