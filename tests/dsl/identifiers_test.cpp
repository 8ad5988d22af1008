#include <catch2/catch.hpp>

#include <onevisit/dsl/expr.hpp>
#include <onevisit/dsl/identifiers.hpp>
#include <onevisit/dsl/personal_numbers.hpp>
#include <onevisit/dsl/source.hpp>

using namespace onevisit::dsl;

TEST_CASE("identifiers: resident ID numbers (GB 11643)", "[identifiers]") {
  CHECK(valid_idcard("11010519491231002X"));
  CHECK(valid_idcard("11010519491231002x"));
  CHECK(valid_idcard("440524188001010014"));
  CHECK(!valid_idcard("340524198001010013"));
  CHECK(idcard_check_character("34052419800101001") == 'X');
  CHECK(!valid_idcard("11010519490230002X"));  // no 30 February (check digit aside)
  CHECK(!valid_idcard("1101051949123100"));
  CHECK(!valid_idcard(""));
  CHECK(!valid_idcard("1101051949123100AX"));
  // Changing any one character breaks it.
  const std::string good = "11010519491231002X";
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = bad[i] == '1' ? '2' : '1';
    CHECK(!valid_idcard(bad));
  }
  const auto birth = idcard_birth_date("11010519491231002X");
  REQUIRE(birth);
  CHECK(*birth == CivilDate{1949, 12, 31});
}

TEST_CASE("identifiers: an ID number says which check it fails, today and region included", "[identifiers]") {
  const std::int64_t today = days_from_civil({2026, 12, 7});
  CHECK(!idcard_problem("11010519491231002X", today));
  CHECK(idcard_problem("1101051949123100", today) == IdcardProblem::length);
  CHECK(idcard_problem("1101051949123100AX", today) == IdcardProblem::characters);
  CHECK(idcard_problem("11010519490230002X", today) == IdcardProblem::birth_date);
  // Born after today: a valid check character does not make it a person's number (issue 13).
  CHECK(idcard_problem("110105202701010016", today) == IdcardProblem::future_birth);
  CHECK(!valid_idcard("110105202701010016", today));
  CHECK(valid_idcard("110105202701010016"));  // without a today only the date's reality counts
  CHECK(idcard_problem("110105202612070018", today) != IdcardProblem::future_birth);  // born today is fine
  // No province 99 (GB/T 2260); 83 is used by Taiwan residents' residence permits.
  CHECK(idcard_problem("990105194912310023", today) == IdcardProblem::region);
  CHECK(idcard_problem("340524198001010013", today) == IdcardProblem::check_character);
  CHECK(describe(IdcardProblem::future_birth) == "出生日期晚于今天");
  // Masking still hides an ID-shaped number of an unknown region (it errs on the side of hiding).
  CHECK(idcard_checksum_valid("990105194912310023"));
  CHECK(mask_personal_numbers("证号990105194912310023") == "证号990*************23");
}

TEST_CASE("identifiers: typed identifiers are made canonical", "[identifiers]") {
  // Full-width digits and letters, a lower-case x, blanks around (ASCII, U+3000, no-break).
  CHECK(normalise_identifier(" \xE3\x80\x80\xEF\xBC\x91\xEF\xBC\x91\xEF\xBC\x90\xEF\xBC\x91\xEF\xBC\x90\xEF\xBC\x95"
                             "19491231002\xEF\xBD\x98\xC2\xA0\t") == "11010519491231002X");
  CHECK(normalise_identifier("91350100m000100y43") == "91350100M000100Y43");
  CHECK(normalise_identifier("\xEF\xBC\x90\xEF\xBC\x95\xEF\xBC\x97\xEF\xBC\x91\xEF\xBC\x8D" "88888888") == "0571-88888888");
  CHECK(normalise_identifier("张 三") == "张 三");  // inner blanks and other text kept
  CHECK(normalise_identifier("\xff x") == "\xff x");  // not UTF-8: unchanged
  CHECK(uscc_problem("91350100m000100y43") == UsccProblem::characters);
  CHECK(uscc_problem("91350100M000100Y44") == UsccProblem::check_character);
}

TEST_CASE("identifiers: unified social credit codes (GB 32100)", "[identifiers]") {
  CHECK(valid_uscc("91350100M000100Y43"));
  CHECK(uscc_check_character("91350100M000100Y4") == '3');
  CHECK(!valid_uscc("91350100M000100Y44"));
  CHECK(!valid_uscc("91350100M0001TGQXM"));  // a known pilot-era exception fails the strict check
  CHECK(!valid_uscc("91350100I000100Y43"));  // I is not in the character set
  CHECK(!valid_uscc("9135"));
  const std::string good = "91350100M000100Y43";
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = bad[i] == '1' ? '2' : '1';
    CHECK(!valid_uscc(bad));
  }
}

TEST_CASE("identifiers: masking for logs", "[identifiers]") {
  CHECK(mask_idcard("11010519491231002X") == "110*************2X");
  CHECK(mask_phone("13812345678") == "138******78");
  CHECK(mask_phone("123") == "***");
  CHECK(valid_mobile_phone("13812345678"));
  CHECK(!valid_mobile_phone("12812345678"));
}

// Issue 17 item 9: masking cut UTF-8 sequences apart ("张三丰" became invalid UTF-8 in JSON
// and in the log). It counts characters now, and never returns invalid UTF-8.
TEST_CASE("identifiers: masking counts characters, not bytes", "[identifiers][utf8]") {
  CHECK(mask_idcard("张三丰") == "***");
  CHECK(mask_idcard("欧阳娜娜的身份证") == "欧阳娜***份证");
  CHECK(mask_phone("１３８１２３４５６７８") == "１３８******７８");
  CHECK(mask_phone("138 1234 5678") == "138********78");
  CHECK(mask_idcard("11010519491231002X") == "110*************2X");
  // Invalid input bytes count as one character each and come back as U+FFFD.
  CHECK(mask_idcard("\xff\xfe" "3456789") == "\xEF\xBF\xBD\xEF\xBF\xBD" "3****89");
  CHECK(mask_phone("138123456\xe5\xbc") == "138******\xEF\xBF\xBD\xEF\xBF\xBD");  // each invalid byte is one
  CHECK(onevisit::dsl::find_invalid_utf8(mask_idcard("张三丰李四王五赵六")) == std::string_view::npos);
  // An applicant: a number as mask_idcard, a name keeps its first character.
  CHECK(mask_applicant("11010519491231002X") == "110*************2X");
  CHECK(mask_applicant("１３８１２３４５６７８") == "１３８******７８");
  CHECK(mask_applicant("张三丰") == "张**");
  CHECK(mask_applicant("阿卜杜热西提·扎克尔") == "阿*********");
  CHECK(mask_applicant("李") == "*");
  CHECK(mask_applicant("") == "");
  CHECK(mask_applicant("\xe5\xbc") == "\xEF\xBF\xBD*");
}
