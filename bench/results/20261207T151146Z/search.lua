local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/api/search", {
    ["content-type"] = "application/x-www-form-urlencoded",
    ["cookie"] = string.format("device_id=00000000-0000-4000-8000-%012d", n % 1000 + 1),
  }, "query=deploy")
end
