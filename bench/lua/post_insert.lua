-- POST with an empty form body: the reference for POST /leads/.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
