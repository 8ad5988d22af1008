// Private to the server: a small HTTP/1.1 server (Boost.Beast/Asio inside http_server.cpp, the
// only file that instantiates Beast) that hands plain requests to a handler.
//
// Connections are kept alive; a thread pool runs the handler, which may block (engine
// commands wait for their durable commit). stop() stops accepting, lets in-flight requests
// finish and answer (with `Connection: close`), closes idle connections and returns when
// every thread has finished.
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

namespace onevisit::server {

struct HttpRequest {
  std::string method;  ///< "GET", "POST", ...
  std::string target;  ///< as sent: path and query
  std::string path;    ///< percent-decoded path, without the query
  std::map<std::string, std::string> query;    ///< decoded query parameters
  std::map<std::string, std::string> headers;  ///< names in lower case
  std::string body;
  std::string remote_address;
  /// The body was longer than the server's limit and was not read; the handler answers 413
  /// and the connection is closed afterwards.
  bool body_too_large = false;

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

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  unsigned short port = 8080;  ///< 0: an ephemeral port (see HttpServer::port)
  std::size_t threads = 4;
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  int idle_timeout_seconds = 30;  ///< an idle keep-alive connection is closed after this
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
