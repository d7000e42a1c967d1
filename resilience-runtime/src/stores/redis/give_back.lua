-- Gives back one token a cancelled wait had reserved: moves the bucket's
-- theoretical arrival time one interval earlier, keeping its expiry.
--
-- KEYS[1]  the bucket
-- ARGV[1]  the refill interval, microseconds per token
local tat = tonumber(redis.call("GET", KEYS[1]))
if tat then
  redis.call("SET", KEYS[1], string.format("%.3f", tat - tonumber(ARGV[1])), "KEEPTTL")
end
return 0
