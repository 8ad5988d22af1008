#include "follow_code.hpp"

#include <qrencode.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

namespace onevisit::server {

std::string follow_url(std::string_view public_url, std::string_view case_id) {
  std::string url(public_url);
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/m/cases/";
  // Case numbers are digits and a hyphen; anything else is percent-encoded all the same.
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const unsigned char c : case_id) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      url += static_cast<char>(c);
    } else {
      url += '%';
      url += kHex[c >> 4];
      url += kHex[c & 15];
    }
  }
  return url;
}

std::expected<std::string, std::string> qr_svg(std::string_view text) {
  const std::string input(text);  // libqrencode reads a NUL-terminated string
  if (input.find('\0') != std::string::npos) return std::unexpected("a QR code's text holds no NUL byte");
  errno = 0;
  std::unique_ptr<QRcode, decltype(&QRcode_free)> code(QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1),
                                                       &QRcode_free);
  if (!code) {
    if (errno == ERANGE) return std::unexpected("the text is too long for a QR code (" + std::to_string(input.size()) + " bytes)");
    return std::unexpected(std::string("libqrencode failed: ") + std::strerror(errno));
  }
  constexpr int kQuietZone = 4;
  const int width = code->width;
  const int side = width + 2 * kQuietZone;
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + std::to_string(side) + " " + std::to_string(side) +
                    "\" shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path fill=\"#000\" d=\"";
  for (int y = 0; y < width; ++y) {
    // One horizontal run of dark modules per path segment keeps the SVG small.
    for (int x = 0; x < width;) {
      if (!(code->data[y * width + x] & 1)) {
        ++x;
        continue;
      }
      int run = 1;
      while (x + run < width && (code->data[y * width + x + run] & 1)) ++run;
      svg += "M" + std::to_string(x + kQuietZone) + " " + std::to_string(y + kQuietZone) + "h" + std::to_string(run) + "v1h-" +
             std::to_string(run) + "z";
      x += run;
    }
  }
  svg += "\"/></svg>";
  return svg;
}

std::string public_url_from_host(std::string_view host, bool secure) {
  if (host.empty() || host.size() > 255) return {};
  for (const unsigned char c : host) {
    // A name, an IPv4 address or a bracketed IPv6 address, and a port: nothing that could turn
    // the printed address into another site's.
    if (!(std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']')) return {};
  }
  return std::string(secure ? "https://" : "http://") + std::string(host);
}

}  // namespace onevisit::server
