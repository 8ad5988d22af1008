#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora and dictionaries (docs/fuzzing.md).

    scripts/fuzz_seeds.py OUT      -> OUT/seeds/<target>/*, OUT/dict/<target>.dict

Seeds come from what the repository already holds, so they follow the code without being
copied by hand: workflows/ and the .flow texts in tests/ and docs/language.md (flow), the
routes and example bodies of docs/api.md (http_api), the JSON, XML and TOML examples of
docs/ and of the adapter tests (receipt_json, receipt_xml, config_toml). The committed seeds
in fuzz/seeds/<target>/ are added as they are. Dictionaries: the DSL's keywords and symbols
from dsl/src/grammar.cpp, the API's paths, fields and HTTP tokens.
"""
import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ["flow", "http_api", "receipt_json", "receipt_xml", "config_toml"]
MAX_SEED_BYTES = 64 * 1024  # big seeds slow every mutation of them


def raw_strings(path):
    """The C++ raw string literals R"(...)" of a source file."""
    return re.findall(r'R"\((.*?)\)"', path.read_text(encoding="utf-8"), re.S)


def fenced(path, language):
    """The ```language blocks of a Markdown file."""
    return re.findall(r"```" + language + r"\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


class Corpus:
    def __init__(self, out):
        self.out = out
        self.count = {t: 0 for t in TARGETS}

    def add(self, target, data, name_hint):
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not data.strip() or len(data) > MAX_SEED_BYTES:
            return
        digest = hashlib.sha1(data).hexdigest()[:12]
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name_hint)[:40]
        folder = self.out / "seeds" / target
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{safe}-{digest}"
        if not path.exists():
            path.write_bytes(data)
            self.count[target] += 1


def flow_seeds(corpus):
    for path in sorted((ROOT / "workflows").rglob("*.flow")):
        corpus.add("flow", path.read_bytes(), path.stem)
    for path in sorted((ROOT / "tests" / "golden").glob("*.flow")):
        corpus.add("flow", path.read_bytes(), "golden_" + path.stem)
    for path in sorted((ROOT / "tests").rglob("*.cpp")):
        for text in raw_strings(path):
            if re.search(r"^\s*(department|bundle|lifecycle|item|material|calendar|decide)\b", text, re.M):
                corpus.add("flow", text, path.stem)
    for text in fenced(ROOT / "docs" / "language.md", "flow"):
        corpus.add("flow", text, "language_md")


def http_request(method, target, body=None, user="admin", cookie=False, extra=()):
    lines = [f"{method} {target} HTTP/1.1", "Host: onevisit.test"]
    if cookie:
        lines.append(f"Cookie: ov_session=ses_fuzz_{user}; ov_csrf=csrf_fuzz_{user}")
        lines.append(f"X-CSRF-Token: csrf_fuzz_{user}")
    else:
        lines.append(f"Authorization: Bearer ovt_fuzz_{user}")
    lines.extend(extra)
    payload = b""
    if body is not None:
        payload = body.encode("utf-8")
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + payload


# Who may call a route (the seeds should get past authorisation to the interesting code).
ROUTE_USERS = [
    (r"^/api/(users|tokens|audit)", "admin"),
    (r"^/api/workflows", "designer"),
    (r"/(verify|events|tolerant-intake)", "clerk"),
    (r"^/api/receipts", "admin"),
    (r"^/api/(report|timers)", "boss"),
]


def start_case_request():
    """POST /api/cases for case C1, with the body of docs/api.md's curl example."""
    block = next(b for b in fenced(ROOT / "docs" / "api.md", "sh") if "-X POST localhost:8080/api/cases" in b)
    body = json.loads(re.sub(r"\s*\n\s*", "", re.search(r"-d '(.*?)'", block, re.S).group(1)))
    body["case_id"] = "C1"
    return http_request("POST", "/api/cases", json.dumps(body, ensure_ascii=False), "clerk")


def http_seeds(corpus):
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    placeholders = {"{id}": "C1", "{material}": "id_card", "{item}": "license_check", "{event}": "accept",
                    "{call}": "1", "{name}": "clerk", "{path}": "index.html"}
    routes = set()
    # `METHOD /path` optionally followed by an example body: — `{...}`
    for m in re.finditer(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`(?:[^`\n]*?`(\{[^`]*\})`)?", api):
        method, target, body = m.group(1), m.group(2), m.group(3)
        for key, value in placeholders.items():
            target = target.replace(key, value)
        target = re.sub(r"\{[a-z_]+\}", "x", target)
        routes.add(target.split("?")[0])
        user = next((u for pattern, u in ROUTE_USERS if re.search(pattern, target)), "clerk")
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = "{}"
        request = http_request(method, target, body, user)
        corpus.add("http_api", request, f"{method}_{target}")
        corpus.add("http_api", http_request(method, target, body, user, cookie=True), f"{method}_{target}_cookie")
        if target.startswith("/api/cases/C1"):
            # The same request on a case that exists: start C1 first, on the same connection.
            corpus.add("http_api", start_case_request() + request, f"C1_{method}_{target}")
    # The curl examples' JSON bodies (-d '...'), for the routes they belong to.
    for block in fenced(ROOT / "docs" / "api.md", "sh"):
        for m in re.finditer(r"-X (POST|PUT) \S*?(/api/[^\s']+).*?-d '(.*?)'", block, re.S):
            body = re.sub(r"\s*\n\s*", "", m.group(3))
            target = m.group(2).replace("$CASE", "C1")
            user = next((u for pattern, u in ROUTE_USERS if re.search(pattern, target)), "clerk")
            corpus.add("http_api", http_request(m.group(1), target, body, user), "curl_" + target)
    return sorted(routes)


def json_seeds(corpus):
    candidates = []
    for md in sorted((ROOT / "docs").glob("*.md")):
        candidates += [(md.stem, t) for t in fenced(md, "json")]
        candidates += [(md.stem, t) for t in fenced(md, "sh")]
    for path in sorted((ROOT / "tests").rglob("*.cpp")):
        candidates += [(path.stem, t) for t in raw_strings(path)]
    for hint, text in candidates:
        # Whole JSON texts, and the {...} objects inside curl lines and test strings.
        for piece in [text] + re.findall(r"\{.*\}", text):
            try:
                value = json.loads(piece)
            except ValueError:
                continue
            if isinstance(value, dict) and "result" in value and isinstance(value["result"], dict):
                value = value["result"]
            if isinstance(value, dict) and "status" in value:
                corpus.add("receipt_json", json.dumps(value, ensure_ascii=False), hint)


def xml_seeds(corpus):
    for md in sorted((ROOT / "docs").glob("*.md")):
        for text in fenced(md, "xml"):
            corpus.add("receipt_xml", text, md.stem)
    for path in sorted((ROOT / "tests").rglob("*.cpp")) + sorted((ROOT / "apps" / "deptsim").glob("*.cpp")):
        for text in raw_strings(path):
            if text.lstrip().startswith("<"):
                corpus.add("receipt_xml", text, path.stem)


def toml_seeds(corpus):
    for md in sorted((ROOT / "docs").glob("*.md")):
        for text in fenced(md, "toml"):
            corpus.add("config_toml", text, md.stem)
    header = (ROOT / "adapters" / "include" / "onevisit" / "adapters" / "config.hpp").read_text(encoding="utf-8")
    example = "\n".join(line[5:] for line in header.splitlines() if line.startswith("//   "))
    corpus.add("config_toml", example, "config_hpp")
    for path in sorted((ROOT / "tests").rglob("*.cpp")):
        for text in raw_strings(path):
            if re.search(r"^\s*\[(systems|dispatch|elicense|results)", text, re.M):
                corpus.add("config_toml", text, path.stem)


def quoted(token):
    return '"' + "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "\\x%02x" % ord(c) for c in token) + '"'


def write_dict(out, target, tokens):
    folder = out / "dict"
    folder.mkdir(parents=True, exist_ok=True)
    tokens = sorted({t for t in tokens if t and len(t.encode("utf-8")) <= 128})
    lines = [f"# {target}: generated by scripts/fuzz_seeds.py"]
    lines += [quoted(t) for t in tokens if t.isascii()]
    (folder / f"{target}.dict").write_text("\n".join(lines) + "\n", encoding="utf-8")


def flow_dict(out):
    grammar = (ROOT / "dsl" / "src" / "grammar.cpp").read_text(encoding="utf-8")
    tokens = set(re.findall(r'kw\("([^"]+)"\)', grammar))
    tokens |= set(re.findall(r'lit\("([^"]+)"\)', grammar))
    tokens |= set(re.findall(r"lit\('(.)'\)", grammar))
    tokens |= {"->", "==", "!=", "<=", ">=", "(", ")", "{", "}", "[", "]", ",", ":", ";", ".", "\"", "#", "\n",
               "import \"../catalog/common.flow\"\n", "import \"../lifecycles/standard.flow\"\n",
               "import \"../calendars/cn_2026.flow\"\n", "workdays", "days", "%", "1", "0", "-1", "2026-03-02",
               "99999999999999999999", "1.5"}
    write_dict(out, "flow", tokens)


def http_dict(out, routes):
    tokens = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", " HTTP/1.1\r\n", " HTTP/1.0\r\n", "\r\n", "\r\n\r\n",
              "Host: ", "Content-Length: ", "Transfer-Encoding: chunked\r\n", "Connection: close\r\n",
              "Connection: keep-alive\r\n", "Content-Type: application/json\r\n", "Content-Type: application/pdf\r\n",
              "Authorization: Bearer ", "Cookie: ", "ov_session=", "ov_csrf=", "X-CSRF-Token: ", "X-Request-Id: ",
              "X-File-Name: ", "Idempotency-Key: ", "Expect: 100-continue\r\n", "0\r\n\r\n", "?", "&", "=", "%",
              "%2F", "%00", "%ZZ", "../", "{", "}", "[", "]", "\"", ":", ",", "null", "true", "false", "0", "-1",
              "18446744073709551615", "9223372036854775808", "1e309", "11010519491231002X", "13812345678"}
    for user in ["admin", "clerk", "market", "police", "boss", "designer"]:
        tokens |= {f"ovt_fuzz_{user}", f"ses_fuzz_{user}", f"csrf_fuzz_{user}"}
    for route in routes:
        tokens.add(route)
        tokens |= {p for p in route.split("/") if p}
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    tokens |= {f'"{k}"' for k in re.findall(r'"([a-z_]{2,32})":', api)}
    tokens |= {f"{k}=" for k in re.findall(r"[?&]([a-z_]{2,32})=", api)}
    write_dict(out, "http_api", tokens)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    corpus = Corpus(out)
    flow_seeds(corpus)
    routes = http_seeds(corpus)
    json_seeds(corpus)
    xml_seeds(corpus)
    toml_seeds(corpus)
    for target in TARGETS:
        committed = ROOT / "fuzz" / "seeds" / target
        if committed.is_dir():
            for path in sorted(committed.iterdir()):
                if path.is_file():
                    corpus.add(target, path.read_bytes(), "committed_" + path.name)
    flow_dict(out)
    http_dict(out, routes)
    for target in TARGETS:
        print(f"{target}: {corpus.count[target]} seeds")


if __name__ == "__main__":
    main()
