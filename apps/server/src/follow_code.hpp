// Private to the server: the QR code printed on a case's notices, which takes the applicant to
// the case's page in the applicant channel (/m/cases/{case number}).
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace onevisit::server {

/// The address an applicant follows a case at: `public_url` (the service's address as the
/// applicants reach it, without a trailing slash) + "/m/cases/" + the case number.
std::string follow_url(std::string_view public_url, std::string_view case_id);

/// `text` as a QR code (error correction level M, which survives a smudged print) in SVG: one
/// path of dark modules on white, with the four-module quiet zone the standard asks for, scaled by
/// the page. An error when the text does not fit a QR code or libqrencode fails.
std::expected<std::string, std::string> qr_svg(std::string_view text);

/// The service's public address from a request's Host header when none is configured:
/// "http://host[:port]" ("https://" with `secure`). Empty when the header is missing or holds
/// anything but a host name or address and a port.
std::string public_url_from_host(std::string_view host, bool secure);

}  // namespace onevisit::server
