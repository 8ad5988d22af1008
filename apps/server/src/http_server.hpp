// Private to the server: a small HTTP/1.1 server (Boost.Beast/Asio inside http_server.cpp, the
// only file that instantiates Beast) that hands plain requests to a handler.
//
// Connections are kept alive and may pipeline requests (answered one at a time, in order);
// a thread pool runs the handler, which may block (engine commands wait for their durable
// commit). stop() stops accepting, lets in-flight requests finish and answer (with
// `Connection: close`), closes idle connections and returns when every thread has finished.
//
// What a connection may cost is bounded before the handler sees it (RFC 9112 statuses, then
// the connection closes): a head over max_head_bytes gets 431, a target over
// max_target_bytes 414, a malformed request 400, a HTTP/1.1 request without exactly one Host
// 400, an Expect other than 100-continue 417, a body over the limit that applies to the
// request (see body_limit) 413 — sent before the body is read. Connections beyond
// max_connections get 503 with Retry-After. Accept failures (EMFILE ...) are retried with
// backoff and logged at most once per interval; only stop() ends the accept loop.
//
// Thread safety: start() and stop() from one controlling thread; the handler is called from
// the pool's threads concurrently.
#pragma once

#include <cstddef>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spdlog {
class logger;
}

namespace onevisit::server {

struct HttpRequest {
  std::string method;  ///< "GET", "POST", ...
  std::string target;  ///< as sent: path and query
  std::string path;    ///< percent-decoded path, without the query
  std::map<std::string, std::string> query;    ///< decoded query parameters
  std::map<std::string, std::string> headers;  ///< names in lower case
  std::string body;
  std::string remote_address;
  /// The body was longer than the limit that applies to this request and was not read (or
  /// not all of it); the handler answers 413 and the connection is closed afterwards.
  bool body_too_large = false;
  /// The body limit that applied to this request (0 for a request without a body).
  std::size_t body_limit = 0;

  std::string header(const std::string& lower_case_name) const {
    const auto it = headers.find(lower_case_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers (Set-Cookie ...)
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;
/// Decides from a request's head (method, target, headers, remote address; `body` empty)
/// how many body bytes the server reads for it, before reading any. This is where the
/// handler tells an authenticated caller from a stranger, so that strangers cannot make the
/// server buffer large bodies. Called from the pool's threads concurrently.
using BodyLimit = std::function<std::size_t(const HttpRequest& head)>;

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  unsigned short port = 8080;  ///< 0: an ephemeral port (see HttpServer::port)
  std::size_t threads = 4;
  /// The largest body read for any request. Default: 16 MiB.
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  /// The body limit per request, at most max_body_bytes. Null: max_body_bytes for every request.
  BodyLimit body_limit;
  /// Request line and header fields together. Default: 16 KiB (431 beyond).
  std::size_t max_head_bytes = 16 * 1024;
  /// The request target (path and query). Default: 8 KiB, as RFC 9112 recommends (414 beyond).
  std::size_t max_target_bytes = 8 * 1024;
  /// Open connections; one more is answered 503 with Retry-After and closed. Each costs a
  /// descriptor: keep it below `ulimit -n`. Default: 512.
  std::size_t max_connections = 512;
  /// The whole request (head and body) must arrive within this, and an idle keep-alive
  /// connection is closed after it.
  int idle_timeout_seconds = 30;
  /// Where accept failures and the like are logged. Null: spdlog's default logger.
  std::shared_ptr<spdlog::logger> logger;
};

class HttpServer {
 public:
  /// Binds and listens; fails with a message naming the address when that is impossible.
  static std::expected<std::unique_ptr<HttpServer>, std::string> start(const HttpServerOptions& options, HttpHandler handler);
  ~HttpServer();  ///< stops (see stop)
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// The port actually bound (useful with port 0).
  unsigned short port() const;
  /// Stops accepting, finishes in-flight requests, closes idle connections, joins the pool.
  /// Idempotent.
  void stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// One request read from the bytes a client sent, by the same parser, limits and conversion
/// a connection uses (for the fuzz target and tests: no socket needed).
struct ParsedRequest {
  HttpRequest request;
  bool keep_alive = false;
  std::size_t consumed = 0;  ///< bytes of the input this request took (the next one follows)
};

/// Parses the first request in `bytes`. Fails with the parser's message when the bytes are not
/// a complete, well-formed request within the limits (a connection closes then); a body over
/// `options.max_body_bytes` gives a request marked body_too_large, as on a connection.
std::expected<ParsedRequest, std::string> parse_request(std::string_view bytes, const HttpServerOptions& options,
                                                        const std::string& remote_address);

/// Percent-decodes a URL component ('+' stays '+'); nullopt-like empty result with `ok`
/// false for a malformed escape.
std::string percent_decode(std::string_view text, bool& ok);

}  // namespace onevisit::server
