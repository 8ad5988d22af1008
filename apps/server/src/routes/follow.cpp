// GET /api/cases/{id}/follow-code: the address an applicant follows the case at, and its QR
// code, printed on the case's notices (docs/api.md).
#include "follow_code.hpp"
#include "routes/handlers.hpp"

#include <spdlog/spdlog.h>

namespace onevisit::server::routes {

HttpResponse follow_code(Exchange& x) {
  const std::string& case_id = x.param("id");
  if (!x.load_case(case_id)) return *x.failure;
  std::string base = x.options.public_url;
  if (base.empty()) base = public_url_from_host(x.request.header("host"), x.options.secure_cookies);
  if (base.empty()) {
    return x.error(422, "invalid", "无法确定本服务的对外地址：请管理员用 --public-url 设置申请人访问的地址");
  }
  const std::string url = follow_url(base, case_id);
  auto svg = qr_svg(url);
  if (!svg) {
    spdlog::error("request {}: the follow code of case {}: {}", x.record.request_id, masked(case_id), svg.error());
    return x.error(500, "internal", "二维码生成失败，请把请求编号告诉管理员");
  }
  return json_response(200, json::object{{"url", url}, {"svg", std::move(*svg)}});
}

}  // namespace onevisit::server::routes
