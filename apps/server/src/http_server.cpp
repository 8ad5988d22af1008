// The only translation unit that instantiates Boost.Beast (compile time matters).
#include "http_server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <mutex>
#include <set>
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

// What sessions share: the handler, the limits and the list of open sessions (for stop()).
struct Shared {
  HttpHandler handler;
  HttpServerOptions options;
  std::atomic<bool> stopping{false};
  std::mutex sessions_mutex;
  std::set<std::shared_ptr<Session>> sessions;
};

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

// The limits every request is read with, on a connection and in parse_request().
void limit(http::request_parser<http::string_body>& parser, const HttpServerOptions& options) {
  parser.body_limit(options.max_body_bytes);
  parser.header_limit(16 * 1024);
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Shared& shared) : stream_(std::move(socket)), shared_(shared) {
    boost::system::error_code ec;
    const auto endpoint = stream_.socket().remote_endpoint(ec);
    remote_ = ec ? std::string("?") : endpoint.address().to_string();
  }

  void run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
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
    parser_.emplace();
    limit(*parser_, shared_.options);
    buffer_.consume(buffer_.size());
    stream_.expires_after(std::chrono::seconds(shared_.options.idle_timeout_seconds));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(boost::system::error_code ec) {
    if (ec == http::error::body_limit) {
      respond(to_plain(parser_->get(), remote_, true), false);
      return;
    }
    if (ec) {
      close();
      return;
    }
    respond(to_plain(parser_->get(), remote_, false), parser_->get().keep_alive());
  }

  void respond(const HttpRequest& request, bool keep_alive) {
    busy_ = true;
    HttpResponse plain;
    try {
      plain = shared_.handler(request);
    } catch (...) {
      // The handler reports errors as responses; an exception here is a bug, but one request
      // must not take the server down.
      plain = HttpResponse{500, "application/json; charset=utf-8", {}, R"({"code":"internal","message":"internal error","details":{}})"};
    }
    keep_alive = keep_alive && !shared_.stopping.load();
    auto response = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(plain.status), 11);
    response->set(http::field::server, "onevisit");
    response->set(http::field::content_type, plain.content_type);
    for (const auto& [name, value] : plain.headers) response->insert(name, value);
    response->body() = std::move(plain.body);
    response->keep_alive(keep_alive);
    response->prepare_payload();
    stream_.expires_after(std::chrono::seconds(shared_.options.idle_timeout_seconds));
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response, keep_alive](boost::system::error_code ec, std::size_t) {
                        self->busy_ = false;
                        if (ec || !keep_alive || self->shared_.stopping.load()) {
                          self->close();
                          return;
                        }
                        self->read();
                      });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
    std::lock_guard lock(shared_.sessions_mutex);
    shared_.sessions.erase(shared_from_this());
  }

  beast::tcp_stream stream_;
  Shared& shared_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool busy_ = false;
  bool closed_ = false;
};

}  // namespace

std::expected<ParsedRequest, std::string> parse_request(std::string_view bytes, const HttpServerOptions& options,
                                                        const std::string& remote_address) {
  http::request_parser<http::string_body> parser;
  limit(parser, options);
  boost::system::error_code ec;
  std::size_t consumed = 0;
  // put() takes what it can each call (the header, then body pieces) until the message is done.
  while (!parser.is_done() && consumed < bytes.size()) {
    const auto used = parser.put(asio::buffer(bytes.data() + consumed, bytes.size() - consumed), ec);
    consumed += used;
    if (ec == http::error::need_more) ec = {};
    if (ec == http::error::body_limit) return ParsedRequest{to_plain(parser.get(), remote_address, true), false, consumed};
    if (ec) return std::unexpected(ec.message());
    if (used == 0) break;
  }
  if (!parser.got_some() || !parser.is_header_done()) return std::unexpected(std::string("no complete request header"));
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
  tcp::acceptor acceptor{io};
  Shared shared;
  std::vector<std::thread> threads;
  unsigned short port = 0;
  bool stopped = false;

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;  // the acceptor was closed
      auto session = std::make_shared<Session>(std::move(socket), shared);
      {
        // stop() sets `stopping` before it takes this lock to list the sessions: a session
        // is either in its list or sees `stopping` here.
        std::lock_guard lock(shared.sessions_mutex);
        if (shared.stopping.load()) return;
        shared.sessions.insert(session);
      }
      session->run();
      accept();
    });
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
  asio::post(impl_->io, [impl = impl_.get()] {
    boost::system::error_code ec;
    impl->acceptor.close(ec);
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
