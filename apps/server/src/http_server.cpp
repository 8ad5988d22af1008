// The only translation unit that instantiates Boost.Beast (compile time matters).
#include "http_server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <thread>

namespace onevisit::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string percent_decode(std::string_view text, bool& ok) {
  ok = true;
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      ok = false;
      return {};
    }
    out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

namespace {

class Session;

// What sessions share: the handler, the limits and the list of open sessions (for stop()
// and the connection cap).
struct Shared {
  HttpHandler handler;
  HttpServerOptions options;
  std::atomic<bool> stopping{false};
  std::mutex sessions_mutex;
  std::set<std::shared_ptr<Session>> sessions;  ///< served connections (the cap counts these)
  std::size_t shedding = 0;                     ///< connections being answered 503 (guarded by the mutex)

  spdlog::logger& log() const { return options.logger ? *options.logger : *spdlog::default_logger_raw(); }
};

// After answering early (before reading all of a request), the client may still be sending:
// closing at once would make the kernel reset the connection and the client could lose the
// answer. So the connection half-closes and reads what comes for a while (as nginx and Apache
// do), bounded in time and bytes.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 1024 * 1024;
// A connection refused with 503 has sent a head at most: it lingers briefly, and beyond this
// many at once the next ones are closed without an answer (a flood must not cost more than
// the cap allows).
constexpr auto kShedLingerTime = std::chrono::milliseconds(500);
constexpr std::size_t kMaxShedding = 128;
// Pipelined input buffered beyond the head limit (the parser consumes the body as it comes).
constexpr std::size_t kBufferSlack = 16 * 1024;

HttpRequest to_plain(const http::request<http::string_body>& in, const std::string& remote, bool too_large) {
  HttpRequest out;
  out.method = std::string(in.method_string());
  out.target = std::string(in.target());
  out.remote_address = remote;
  out.body_too_large = too_large;
  if (!too_large) out.body = in.body();
  for (const auto& field : in) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.headers[name] = std::string(field.value());
  }
  const auto question = out.target.find('?');
  bool ok = true;
  out.path = percent_decode(std::string_view(out.target).substr(0, question), ok);
  if (!ok) out.path = "/\\malformed-escape";  // no route and no file has a backslash: 404
  if (question != std::string::npos) {
    std::string_view query = std::string_view(out.target).substr(question + 1);
    while (!query.empty()) {
      const auto amp = query.find('&');
      const auto pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (pair.empty()) continue;
      const auto eq = pair.find('=');
      std::string key(pair.substr(0, eq));
      std::string value(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
      std::replace(value.begin(), value.end(), '+', ' ');
      bool key_ok = true;
      bool value_ok = true;
      auto decoded_key = percent_decode(key, key_ok);
      auto decoded_value = percent_decode(value, value_ok);
      if (key_ok && value_ok) out.query[decoded_key] = decoded_value;
    }
  }
  return out;
}

// A refusal by the server itself, in the API's error shape (docs/api.md).
HttpResponse refusal(unsigned status, std::string_view code, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = std::string(R"({"code":")") + std::string(code) + R"(","message":")" + std::string(message) +
           R"(","details":{}})";
  return r;
}

// Errors that mean the request is malformed (400), as opposed to the peer going away, a
// timeout, or a limit (answered with their own statuses).
bool is_malformed(const boost::system::error_code& ec) {
  if (ec.category() != http::make_error_code(http::error::bad_target).category()) return false;
  return ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::short_read && ec != http::error::header_limit && ec != http::error::body_limit &&
         ec != http::error::buffer_overflow;
}

// The limits every request is read with, on a connection and in parse_request(); the body
// limit is lowered once the head is known (body_limit_for).
void limit(http::request_parser<http::string_body>& parser, const HttpServerOptions& options) {
  parser.header_limit(static_cast<std::uint32_t>(options.max_head_bytes));
  parser.body_limit(options.max_body_bytes);
}

struct Refusal {
  unsigned status;
  std::string_view code;
  std::string_view message;
};

// What RFC 9112 asks of a request head before its body is read (on a connection and in
// parse_request()); nullopt when it may go on.
std::optional<Refusal> check_head(const http::request_parser<http::string_body>& parser, const HttpServerOptions& options) {
  const auto& head = parser.get();
  if (head.target().size() > options.max_target_bytes) return Refusal{414, "target_too_long", "请求地址太长"};
  // RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one in HTTP/1.0.
  const auto hosts = head.count(http::field::host);
  if (hosts > 1 || (hosts == 0 && head.version() >= 11))
    return Refusal{400, "bad_request", "HTTP/1.1 请求须有且只有一个 Host 头"};
  const auto expect = head.count(http::field::expect) ? head[http::field::expect] : beast::string_view();
  if (!expect.empty() && !beast::iequals(expect, "100-continue"))
    return Refusal{417, "expectation_failed", "只支持 Expect: 100-continue"};
  // RFC 9112 6.3: a transfer coding other than chunked last leaves the body's length unknown;
  // reading on would take the body for the next, pipelined request.
  if (head.count(http::field::transfer_encoding) > 0 && !parser.chunked())
    return Refusal{400, "bad_request", "Transfer-Encoding 须以 chunked 结尾"};
  return std::nullopt;
}

// The body limit for this head: max_body_bytes, lowered by the handler's body_limit hook.
std::size_t body_limit_for(const HttpRequest& head, const HttpServerOptions& options) {
  std::size_t limit = options.max_body_bytes;
  if (options.body_limit) {
    try {
      limit = std::min(limit, options.body_limit(head));
    } catch (...) {
      limit = 0;  // a bug in the hook; refusing the body is the safe side
    }
  }
  return limit;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Shared& shared)
      : stream_(std::move(socket)), shared_(shared), buffer_(shared.options.max_head_bytes + kBufferSlack) {
    boost::system::error_code ec;
    const auto endpoint = stream_.socket().remote_endpoint(ec);
    remote_ = ec ? std::string("?") : endpoint.address().to_string();
  }

  void run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

  // For a connection beyond the cap: answers 503 and closes, without reading a request.
  void shed() {
    shedding_ = true;
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      auto r = refusal(503, "overloaded", "服务器连接太多，请稍后再试");
      r.headers.emplace_back("Retry-After", "1");
      self->write(std::move(r), false, true);
    });
  }

  // Called from stop(): closes the connection unless a request is being handled (that one
  // answers with Connection: close and then closes).
  void close_when_idle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) self->close();
    });
  }

 private:
  void read() {
    if (shared_.stopping.load()) {
      close();
      return;
    }
    // The buffer keeps what the client sent beyond the last request: a pipelined request.
    parser_.emplace();
    limit(*parser_, shared_.options);
    head_request_ = false;
    stream_.expires_after(std::chrono::seconds(shared_.options.idle_timeout_seconds));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](boost::system::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(boost::system::error_code ec) {
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      if (target_too_long()) return refuse(414, "target_too_long", "请求地址太长");
      return refuse(431, "header_too_large", "请求头太大");
    }
    if (ec == http::error::body_limit) return too_large();  // a Content-Length over max_body_bytes
    if (is_malformed(ec)) return refuse(400, "bad_request", "HTTP 请求格式不对");
    if (ec) return close();  // the client went away or took too long

    const auto& head = parser_->get();
    head_request_ = head.method() == http::verb::head;
    if (const auto refusal = check_head(*parser_, shared_.options)) return refuse(refusal->status, refusal->code, refusal->message);
    const bool continue_expected = head.count(http::field::expect) > 0;  // 100-continue: check_head refused others
    if (parser_->is_done()) return respond(to_plain(head, remote_, false), head.keep_alive());

    const std::size_t limit = body_limit_for(to_plain(head, remote_, false), shared_.options);
    body_limit_ = limit;
    if (const auto length = parser_->content_length(); length && *length > limit) return too_large();
    // Only the remaining body counts from here on (Beast checked Content-Length against the
    // larger limit already; chunked bodies are counted as they come).
    parser_->body_limit(limit);
    if (continue_expected && head.version() >= 11) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      stream_.expires_after(std::chrono::seconds(shared_.options.idle_timeout_seconds));
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                          if (ec) return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    // The deadline set for the head still runs: head and body arrive within one timeout.
    http::async_read(
        stream_, buffer_, *parser_, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
          if (ec == http::error::body_limit || ec == http::error::buffer_overflow) return self->too_large();
          if (is_malformed(ec))
            return self->refuse(400, "bad_request", "HTTP 请求内容格式不对（分块编码）");
          if (ec) return self->close();
          self->respond(to_plain(self->parser_->get(), self->remote_, false),
                        self->parser_->get().keep_alive());
        });
  }

  // Whether the head that did not fit is too long because of its target. Beast consumes the
  // request line once it is complete: then the target is known; a request line that never
  // completed within the head limit is all target (method and version are short).
  bool target_too_long() const {
    const auto target = parser_->get().target();
    return target.empty() || target.size() > shared_.options.max_target_bytes;
  }

  // The handler answers 413 (in the API's shape, with its request id); the body is not read.
  void too_large() {
    auto request = to_plain(parser_->get(), remote_, true);
    request.body_limit = body_limit_.value_or(shared_.options.max_body_bytes);
    respond(request, false, true);
  }

  void refuse(unsigned status, std::string_view code, std::string_view message) {
    write(refusal(status, code, message), false, true);
  }

  void respond(HttpRequest request, bool keep_alive, bool input_left = false) {
    busy_ = true;
    if (!request.body_too_large) request.body_limit = body_limit_.value_or(0);
    HttpResponse plain;
    try {
      plain = shared_.handler(request);
    } catch (...) {
      // The handler reports errors as responses; an exception here is a bug, but one request
      // must not take the server down.
      plain = HttpResponse{500, "application/json; charset=utf-8", {}, R"({"code":"internal","message":"服务内部出错","details":{}})"};
    }
    write(std::move(plain), keep_alive, input_left);
  }

  // Sends `plain`; then reads the next request, or closes (lingering when the client may
  // still be sending a request that was answered early).
  void write(HttpResponse plain, bool keep_alive, bool input_left) {
    busy_ = true;
    keep_alive = keep_alive && !input_left && !shared_.stopping.load();
    auto response = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(plain.status), 11);
    response->set(http::field::server, "onevisit");
    response->set(http::field::content_type, plain.content_type);
    for (const auto& [name, value] : plain.headers) response->insert(name, value);
    response->body() = std::move(plain.body);
    response->keep_alive(keep_alive);
    response->prepare_payload();
    if (head_request_) {
      // RFC 9110 9.3.2: the same header fields as GET, Content-Length included, and no body.
      const auto length = response->body().size();
      response->body().clear();
      response->content_length(length);
    }
    body_limit_.reset();
    stream_.expires_after(std::chrono::seconds(shared_.options.idle_timeout_seconds));
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response, keep_alive, input_left](
                          boost::system::error_code ec, std::size_t) {
                        self->busy_ = false;
                        if (!ec && input_left && !self->shared_.stopping.load()) return self->linger();
                        if (ec || !keep_alive || self->shared_.stopping.load()) return self->close();
                        self->read();
                      });
  }

  void linger() {
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    buffer_.consume(buffer_.size());
    lingered_ = 0;
    stream_.expires_after(
        shedding_ ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(kShedLingerTime)
                  : kLingerTime);
    drain();
  }

  void drain() {
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                              self->lingered_ += n;
                              if (ec || self->lingered_ > kLingerBytes || self->shared_.stopping.load())
                                return self->close();
                              self->drain();
                            });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
    std::lock_guard lock(shared_.sessions_mutex);
    if (shedding_)
      --shared_.shedding;
    else
      shared_.sessions.erase(shared_from_this());
  }

  beast::tcp_stream stream_;
  Shared& shared_;
  std::string remote_;
  beast::flat_buffer buffer_;  ///< bounded: at most one head and some pipelined input
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<std::size_t> body_limit_;  ///< the limit for the request being read, once known
  std::size_t lingered_ = 0;
  bool head_request_ = false;
  bool busy_ = false;
  bool closed_ = false;
  bool shedding_ = false;
};

}  // namespace

std::expected<ParsedRequest, std::string> parse_request(std::string_view bytes, const HttpServerOptions& options,
                                                        const std::string& remote_address) {
  http::request_parser<http::string_body> parser;
  limit(parser, options);
  boost::system::error_code ec;
  std::size_t consumed = 0;
  // put() takes what it can each call (the header, then body pieces) until the message is done.
  bool body_limited = false;  // the limit for this head applied, as a connection does
  while (!parser.is_done() && consumed < bytes.size()) {
    const auto used = parser.put(asio::buffer(bytes.data() + consumed, bytes.size() - consumed), ec);
    consumed += used;
    if (ec == http::error::need_more) ec = {};
    if (!ec && !body_limited && parser.is_header_done() && !parser.is_done()) {
      body_limited = true;
      if (const auto refusal = check_head(parser, options)) {
        return std::unexpected(std::to_string(refusal->status) + " " + std::string(refusal->message));
      }
      const auto limit = body_limit_for(to_plain(parser.get(), remote_address, false), options);
      const auto length = parser.content_length();
      if (length && *length > limit) return ParsedRequest{to_plain(parser.get(), remote_address, true), false, consumed};
      parser.body_limit(limit);
    }
    if (ec == http::error::body_limit) return ParsedRequest{to_plain(parser.get(), remote_address, true), false, consumed};
    if (ec) return std::unexpected(ec.message());
    if (used == 0) break;
  }
  if (!parser.got_some() || !parser.is_header_done()) return std::unexpected(std::string("no complete request header"));
  if (const auto refusal = check_head(parser, options)) {
    return std::unexpected(std::to_string(refusal->status) + " " + std::string(refusal->message));
  }
  if (!parser.is_done()) {
    // The peer closed the connection: a body that runs to the end of input ends here.
    parser.put_eof(ec);
    if (ec) return std::unexpected(ec.message());
    if (!parser.is_done()) return std::unexpected(std::string("incomplete request"));
  }
  return ParsedRequest{to_plain(parser.get(), remote_address, false), parser.get().keep_alive(), consumed};
}

struct HttpServer::Impl {
  asio::io_context io;
  // The acceptor, its retry timer and the failure counts live on one strand, so stop() can
  // close the acceptor from another thread.
  asio::strand<asio::io_context::executor_type> accept_strand{asio::make_strand(io)};
  tcp::acceptor acceptor{accept_strand};
  asio::steady_timer retry{accept_strand};
  Shared shared;
  std::vector<std::thread> threads;
  unsigned short port = 0;
  bool stopped = false;

  // Accept failures: the wait before the next attempt, and what is not logged yet.
  static constexpr auto kFirstBackoff = std::chrono::milliseconds(10);
  static constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);
  static constexpr auto kLogInterval = std::chrono::seconds(10);
  std::chrono::milliseconds backoff{0};
  std::size_t failures = 0;  ///< since the last successful accept
  std::size_t unlogged = 0;  ///< failures since the last log line
  std::optional<std::chrono::steady_clock::time_point> last_log;

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](boost::system::error_code ec, tcp::socket socket) {
      if (!acceptor.is_open() || shared.stopping.load()) return;  // stop() closed it: the only way out
      if (ec) return accept_failed(ec);
      if (failures > 0) {
        shared.log().info("http: accepting connections again after {} failed attempts", failures);
        failures = 0;
        unlogged = 0;
        last_log.reset();
      }
      backoff = std::chrono::milliseconds(0);
      serve(std::move(socket));
      accept();
    });
  }

  // EMFILE, ENFILE, ENOBUFS ... pass when connections close: wait (doubling up to a second)
  // and try again. One log line per interval, however many attempts fail.
  void accept_failed(const boost::system::error_code& ec) {
    ++failures;
    ++unlogged;
    const auto now = std::chrono::steady_clock::now();
    backoff =
        std::min<std::chrono::milliseconds>(backoff.count() == 0 ? kFirstBackoff : backoff * 2, kMaxBackoff);
    if (!last_log || now - *last_log >= kLogInterval) {
      shared.log().error(
          "http: cannot accept connections: {} ({} failed attempts since the last report); retrying every {} "
          "ms at most",
          ec.message(), unlogged, kMaxBackoff.count());
      unlogged = 0;
      last_log = now;
    }
    retry.expires_after(backoff);
    retry.async_wait([this](boost::system::error_code wait_ec) {
      if (wait_ec || !acceptor.is_open()) return;
      accept();
    });
  }

  void serve(tcp::socket socket) {
    auto session = std::make_shared<Session>(std::move(socket), shared);
    {
      // stop() sets `stopping` before it takes this lock to list the sessions: a session
      // is either in its list or sees `stopping` here.
      std::lock_guard lock(shared.sessions_mutex);
      if (shared.stopping.load()) return;
      if (shared.sessions.size() >= shared.options.max_connections) {
        if (shared.shedding >= kMaxShedding)
          return;  // closed unanswered (the socket closes with the session)
        ++shared.shedding;
      } else {
        shared.sessions.insert(session);
        session->run();
        return;
      }
    }
    session->shed();
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { stop(); }

unsigned short HttpServer::port() const { return impl_->port; }

std::expected<std::unique_ptr<HttpServer>, std::string> HttpServer::start(const HttpServerOptions& options, HttpHandler handler) {
  auto impl = std::make_unique<Impl>();
  impl->shared.handler = std::move(handler);
  impl->shared.options = options;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options.address, ec);
  if (ec) return std::unexpected("'" + options.address + "' is not an IP address");
  const tcp::endpoint endpoint(address, options.port);
  const auto where = options.address + ":" + std::to_string(options.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected("cannot listen on " + where + ": " + ec.message());
  impl->port = impl->acceptor.local_endpoint().port();
  impl->accept();
  const auto threads = std::max<std::size_t>(1, options.threads);
  for (std::size_t i = 0; i < threads; ++i) impl->threads.emplace_back([io = &impl->io] { io->run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->shared.stopping.store(true);
  asio::post(impl_->accept_strand, [impl = impl_.get()] {
    boost::system::error_code ec;
    impl->acceptor.close(ec);
    impl->retry.cancel();
  });
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard lock(impl_->shared.sessions_mutex);
    open.assign(impl_->shared.sessions.begin(), impl_->shared.sessions.end());
  }
  for (const auto& session : open) session->close_when_idle();
  open.clear();
  // Sessions in flight finish their answer and close; then io.run() runs out of work.
  for (auto& thread : impl_->threads) thread.join();
  impl_->threads.clear();
}

}  // namespace onevisit::server
