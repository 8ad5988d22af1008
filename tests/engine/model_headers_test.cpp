// The runtime model's headers stand without the syntax tree (issue 13, one semantic front
// end): this file includes them first and alone, so it stops compiling when either pulls in
// dsl/ast.hpp again, and the test reads a model through them.
#include <onevisit/engine/calendar.hpp>
#include <onevisit/engine/workflow.hpp>

#include <type_traits>

namespace onevisit::dsl::ast {
struct Expr;  // declared only: the definition lives in dsl/ast.hpp, which must not be included here
struct File;
}  // namespace onevisit::dsl::ast

namespace {

template <class T, class = decltype(sizeof(T))>
std::true_type is_defined(int);
template <class T>
std::false_type is_defined(...);

static_assert(!decltype(is_defined<onevisit::dsl::ast::Expr>(0))::value,
              "workflow.hpp or calendar.hpp includes dsl/ast.hpp: the runtime model must need only compiled expressions");
static_assert(!decltype(is_defined<onevisit::dsl::ast::File>(0))::value,
              "workflow.hpp or calendar.hpp includes dsl/ast.hpp: the runtime model must need only compiled expressions");

}  // namespace

#include <catch2/catch.hpp>

TEST_CASE("model: the runtime model needs no syntax tree", "[compile][model]") {
  const onevisit::engine::Limit limit{onevisit::dsl::Decimal::from_int(3), onevisit::dsl::TimeUnit::workday};
  CHECK(limit.to_string() == "3 workdays");
  onevisit::engine::FieldModel field;
  field.kind = onevisit::dsl::TypeKind::enumeration;
  field.choices = {{"local", "本地"}};
  CHECK(field.choices.front().title == "本地");
  CHECK(onevisit::engine::WorkCalendar::weekdays().is_working_day(onevisit::dsl::days_from_civil({2026, 12, 7})));
}
