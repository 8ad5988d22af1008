#!/usr/bin/env python3
"""Makes the benchmarks' users over the REST API and prints their API tokens.

    python3 bench/bench_tokens.py BASE_URL ADMIN_PASSWORD  ->  "<clerk token> <market reviewer token>"

Creates a window clerk `clerk` and a market reviewer `market` (a user that exists already, as
on a kept database, is left as it is) and gives each a new write token.
"""
import http.cookiejar
import json
import sys
import urllib.error
import urllib.request


def session(base, name, password):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = urllib.request.Request(base + "/api/session", json.dumps({"name": name, "password": password}).encode(),
                                   {"Content-Type": "application/json"})
    csrf = json.load(opener.open(login))["csrf_token"]

    def post(path, body):
        request = urllib.request.Request(base + path, json.dumps(body).encode(),
                                         {"Content-Type": "application/json", "X-CSRF-Token": csrf})
        try:
            return json.load(opener.open(request))
        except urllib.error.HTTPError as e:
            if e.code != 409:
                raise
            return None  # the user exists already
    return post


def main():
    base, password = sys.argv[1], sys.argv[2]
    admin = session(base, "admin", password)
    admin("/api/users", {"name": "clerk", "role": "window_clerk", "password": "bench-clerk-1"})
    admin("/api/users", {"name": "market", "role": "reviewer", "department": "market", "password": "bench-market-1"})
    clerk = session(base, "clerk", "bench-clerk-1")
    market = session(base, "market", "bench-market-1")
    print(clerk("/api/tokens", {"name": "bench", "scope": "write"})["token"],
          market("/api/tokens", {"name": "bench", "scope": "write"})["token"])


if __name__ == "__main__":
    main()
