-- wrk script: POST the contract example as JSON (the body comes from the BODY variable).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BODY")
