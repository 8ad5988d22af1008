// /api/cases/{id}/pause, resume, withdraw, deliver, delivery-choice, rate: commands on the whole
// case (the applicant's delivery choice and rating under /api/applicant/cases/{id}/ too).
#include "routes/handlers.hpp"

namespace onevisit::server::routes {

namespace {

// Parses the body, reads it with `read` (which returns the command, or nullopt after
// setting a failure), loads the case and runs the command.
template <typename Read>
HttpResponse case_command(Exchange& x, Read read) {
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  std::optional<HttpResponse> refused;
  auto command = read(reader, refused);
  if (!reader.ok()) return x.bad_fields(reader);
  if (refused) return *refused;
  const std::string& case_id = x.param("id");
  if (!x.load_case(case_id)) return *x.failure;
  return x.run_command(case_id, std::move(*command));
}

}  // namespace

HttpResponse pause_clock(Exchange& x) {
  return case_command(x, [](BodyReader& r, std::optional<HttpResponse>&) -> std::optional<engine::CommandBody> {
    const auto item = r.text("item");
    const auto reason = r.text("reason", true);
    if (!r.ok()) return std::nullopt;
    return engine::PauseClock{item.value_or(""), *reason};
  });
}

HttpResponse resume_clock(Exchange& x) {
  return case_command(x, [](BodyReader& r, std::optional<HttpResponse>&) -> std::optional<engine::CommandBody> {
    const auto item = r.text("item");
    r.text("reason");
    if (!r.ok()) return std::nullopt;
    return engine::ResumeClock{item.value_or("")};
  });
}

HttpResponse withdraw(Exchange& x) {
  return case_command(x, [](BodyReader& r, std::optional<HttpResponse>&) -> std::optional<engine::CommandBody> {
    const auto reason = r.text("reason");
    if (!r.ok()) return std::nullopt;
    return engine::Withdraw{reason.value_or("")};
  });
}

HttpResponse deliver(Exchange& x) {
  return case_command(x, [](BodyReader& r, std::optional<HttpResponse>&) -> std::optional<engine::CommandBody> {
    const auto channel = r.text("channel", true);
    if (!r.ok()) return std::nullopt;
    return engine::Deliver{*channel};
  });
}

HttpResponse choose_delivery(Exchange& x) {
  return case_command(x, [](BodyReader& r, std::optional<HttpResponse>&) -> std::optional<engine::CommandBody> {
    const auto method = r.text("method", true);
    const auto recipient = r.text("recipient");
    const auto mobile = r.text("mobile");
    const auto address = r.text("address");
    if (!r.ok()) return std::nullopt;
    // As typed on a phone: spaces and dashes inside the number are the same number.
    std::string digits = mobile.value_or("");
    std::erase_if(digits, [](char c) { return c == ' ' || c == '-'; });
    return engine::ChooseDelivery{*method, recipient.value_or(""), digits, address.value_or("")};
  });
}

HttpResponse answer_rectification(Exchange& x) {
  return case_command(x, [](BodyReader& r, std::optional<HttpResponse>&) -> std::optional<engine::CommandBody> {
    const auto answer = r.text("answer");
    if (!r.ok()) return std::nullopt;
    return engine::AnswerRectification{answer.value_or("")};
  });
}

HttpResponse rate(Exchange& x) {
  return case_command(x, [&](BodyReader& r, std::optional<HttpResponse>& refused) -> std::optional<engine::CommandBody> {
    const auto level = r.integer("level", true);
    const auto comment = r.text("comment");
    if (!r.ok()) return std::nullopt;
    if (*level < 1 || *level > 5) {
      refused = x.error(422, "invalid", "评价等级应为 1 到 5");
      return std::nullopt;
    }
    return engine::Rate{static_cast<int>(*level), comment.value_or("")};
  });
}

}  // namespace onevisit::server::routes
