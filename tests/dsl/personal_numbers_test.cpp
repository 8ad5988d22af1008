// The personal-number detector: what it masks, what it must leave alone, and that what it
// returns is valid UTF-8 whatever it was given.
#include <catch2/catch.hpp>

#include <onevisit/dsl/identifiers.hpp>
#include <onevisit/dsl/personal_numbers.hpp>
#include <onevisit/dsl/source.hpp>

using namespace onevisit::dsl;

namespace {
bool valid_utf8(std::string_view text) { return find_invalid_utf8(text) == std::string_view::npos; }
}  // namespace

TEST_CASE("personal numbers: mobile phones, also with +86, separators and full-width digits", "[personal]") {
  CHECK(mask_personal_numbers("13812345678") == "138******78");
  CHECK(mask_personal_numbers("电话13812345678。") == "电话138******78。");
  CHECK(mask_personal_numbers("+86 138 1234 5678") == "+86 138 **** **78");
  CHECK(mask_personal_numbers("+8613812345678") == "+86138******78");
  CHECK(mask_personal_numbers("86 138 1234 5678") == "86 138 **** **78");
  CHECK(mask_personal_numbers("0086-138-1234-5678") == "0086-138-****-**78");
  CHECK(mask_personal_numbers("138-1234-5678") == "138-****-**78");
  CHECK(mask_personal_numbers("(+86)13812345678") == "(+86)138******78");
  CHECK(mask_personal_numbers("手机：１３８１２３４５６７８") == "手机：１３８******７８");
  CHECK(mask_personal_numbers("＋８６ １３８ １２３４ ５６７８") == "＋８６ １３８ **** **７８");
  CHECK(mask_personal_numbers("13812345678,13912345678") == "138******78,139******78");
  CHECK(mask_personal_numbers("room 12 13812345678") == "room 12 138******78");
  CHECK(mask_personal_numbers("case-13812345678") == "case-138******78");
}

TEST_CASE("personal numbers: landlines with their area code", "[personal]") {
  CHECK(mask_personal_numbers("010-65529988") == "010-******88");
  CHECK(mask_personal_numbers("(010)65529988") == "(010)******88");
  CHECK(mask_personal_numbers("0571 8765 4321") == "057* **** **21");
  CHECK(mask_personal_numbers("0755-2345678") == "075*-*****78");
  CHECK(mask_personal_numbers("02162345678") == "021******78");
  CHECK(mask_personal_numbers("+86 10 6552 9988") == "+86 10 6*** **88");
  CHECK(mask_personal_numbers("0571-12345678") == "0571-12345678");  // local numbers do not start with 1
}

TEST_CASE("personal numbers: resident ID numbers, old and new, and credit codes", "[personal]") {
  CHECK(mask_personal_numbers("身份证11010519491231002X") == "身份证110*************2X");
  CHECK(mask_personal_numbers("id 11010519491231002x.") == "id 110*************2x.");
  CHECK(mask_personal_numbers("110105 19491231 002X") == "110*** ******** **2X");
  CHECK(mask_personal_numbers("１１０１０５１９４９１２３１００２Ｘ") == "１１０*************２Ｘ");
  CHECK(mask_personal_numbers("老身份证110105491231002号") == "老身份证110**********02号");
  CHECK(mask_personal_numbers("信用代码91350100M000100Y43") == "信用代码913*************43");
  CHECK(mask_personal_numbers(R"({"id":"11010519491231002X","phone":"13812345678"})") ==
        R"({"id":"110*************2X","phone":"138******78"})");
  const auto found = find_personal_numbers("电话13812345678，证件11010519491231002X，代码91350100M000100Y43");
  REQUIRE(found.size() == 3);
  CHECK(found[0].begin == 6);
  CHECK(found[0].end == 17);
  CHECK(found[0].kind == PersonalNumberKind::mobile_phone);
  CHECK(found[1].kind == PersonalNumberKind::resident_id);
  CHECK(found[2].kind == PersonalNumberKind::credit_code);
  CHECK(to_string(PersonalNumberKind::resident_id) == "ID number");
}

TEST_CASE("personal numbers: dates, amounts, case numbers and ordinary numbers stay", "[personal]") {
  for (const std::string_view text :
       {"2026-12-07",
        "20261207",
        "2026年12月7日 10:30",
        "2026-12-07 13:45:10",
        "13812345678.00元",
        "¥12,345,678.90",
        "1,380,000,000",
        "0.13812345678",
        "3.1415926535",
        "C20261207-1-ab12cd",
        "C20261207-12345-0a1b2c",
        "(2026)浙0106民初12345号",
        "京ICP备12345678号",
        "12812345678",
        "1381234567",
        "138123456789",
        "13812345678901234567",
        "00012345678",
        "01012345678901",
        "340524198001010013",
        "202612071234567890",
        "110105491331002",
        "991350100M000100Y43",
        "91350100M000100Y44",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "ab13812345678",
        "13812345678ab",
        "v1.2.3",
        "100000",
        "第3条第2款",
        "受理编号 330106 20261207 0001"}) {
    INFO(text);
    CHECK(mask_personal_numbers(text) == text);
    CHECK_FALSE(contains_personal_number(text));
  }
}

TEST_CASE("personal numbers: client-chosen identifiers count letters as separators", "[personal]") {
  CHECK(contains_personal_number("C13812345678", PersonalNumberScan::identifier));
  CHECK_FALSE(contains_personal_number("C13812345678", PersonalNumberScan::text));
  CHECK(contains_personal_number("13812345678", PersonalNumberScan::identifier));
  CHECK(contains_personal_number("+8613812345678", PersonalNumberScan::identifier));
  CHECK(contains_personal_number("case_13812345678", PersonalNumberScan::identifier));
  CHECK(contains_personal_number("11010519491231002X", PersonalNumberScan::identifier));
  CHECK(contains_personal_number("ID11010519491231002X", PersonalNumberScan::identifier));
  CHECK(contains_personal_number("010-65529988", PersonalNumberScan::identifier));
  for (const std::string_view id :
       {"C1", "C2", "NOPE", "C20261207-1-ab12cd", "C20261207-42-9x8y7z", "startup-2026-0001", "intake.7"}) {
    INFO(id);
    CHECK_FALSE(contains_personal_number(id, PersonalNumberScan::identifier));
  }
}

TEST_CASE("personal numbers: masking keeps characters whole and always returns valid UTF-8",
          "[personal][utf8]") {
  CHECK(mask_personal_numbers("张三丰") == "张三丰");
  CHECK(mask_personal_numbers("申请人张三丰，电话13812345678") == "申请人张三丰，电话138******78");
  // Invalid bytes (a cut character, a stray continuation byte, 0xFF) become U+FFFD.
  CHECK(mask_personal_numbers("\xe5\xbc") == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(mask_personal_numbers("a\xffz") == "a\xEF\xBF\xBDz");
  CHECK(mask_personal_numbers("\x80"
                              "13812345678") ==
        "\xEF\xBF\xBD"
        "138******78");
  for (const std::string_view text :
       {"\xe5\xbc\xa0\xe4", "13812345678\xe4\xb8", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", ""}) {
    CHECK(valid_utf8(mask_personal_numbers(text)));
  }
  CHECK(truncate_utf8("张三丰", 8) == "张三");  // 9 bytes; the third character does not fit whole
  CHECK(truncate_utf8("张三丰", 9) == "张三丰");
  CHECK(truncate_utf8("ab", 5) == "ab");
  CHECK(truncate_utf8("张\xff丰", 100) == "张\xEF\xBF\xBD丰");
}

TEST_CASE("personal numbers: a long text is scanned in linear time", "[personal]") {
  std::string text;
  for (int i = 0; i < 100'000; ++i) text += "1 2-3 ";
  text += "13812345678";
  const auto masked = mask_personal_numbers(text);
  CHECK(masked.size() == text.size());
  CHECK(masked.ends_with("138******78"));
}
