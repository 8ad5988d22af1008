// A raw HTTP/1.1 client connection for the server tests: sends bytes as given and reads
// responses with a deadline, so a server that never answers fails a test instead of hanging it.
#pragma once

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace onevisit::testing {

using namespace std::chrono_literals;

struct RawResponse {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class RawConnection {
 public:
  explicit RawConnection(unsigned short port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  }
  ~RawConnection() { close(); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // False when the server closed the connection (the bytes may not all have gone out).
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // The next response; nullopt when none arrives complete before the deadline or the close.
  // A response to HEAD has no body whatever its Content-Length says.
  std::optional<RawResponse> read_response(bool to_head = false, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t end_of_head;
    while ((end_of_head = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
    }
    RawResponse r;
    const std::string head = pending_.substr(0, end_of_head);
    if (head.rfind("HTTP/1.1 ", 0) != 0 || head.size() < 12) return std::nullopt;
    r.status = static_cast<unsigned>(std::stoul(head.substr(9, 3)));
    std::size_t line_start = head.find("\r\n");
    while (line_start != std::string::npos) {
      line_start += 2;
      const auto line_end = head.find("\r\n", line_start);
      const auto line =
          head.substr(line_start, line_end == std::string::npos ? std::string::npos : line_end - line_start);
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
      }
      line_start = line_end;
    }
    pending_.erase(0, end_of_head + 4);
    if (to_head || r.status / 100 == 1 || r.status == 204 || r.status == 304) return r;
    const std::size_t length =
        r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    while (pending_.size() < length) {
      if (!fill(deadline)) return std::nullopt;
    }
    r.body = pending_.substr(0, length);
    pending_.erase(0, length);
    return r;
  }

  // Whether the server closes the connection (EOF or reset) before the deadline; what it
  // sends meanwhile is kept for read_response.
  bool closed_by_server(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (fill(deadline)) {
    }
    return eof_;
  }

 private:
  bool fill(std::chrono::steady_clock::time_point deadline) {
    if (eof_) return false;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
            .count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char chunk[16 * 1024];
    const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    pending_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string pending_;
  bool eof_ = false;
};

}  // namespace onevisit::testing
