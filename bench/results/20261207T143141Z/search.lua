wrk.method = "POST"
wrk.body = "query=deploy"
wrk.headers["content-type"] = "application/x-www-form-urlencoded"
wrk.headers["cookie"] = "device_id=00000000-0000-4000-8000-000000000001"
