#include <catch2/catch.hpp>

#include <onevisit/adapters/xml_exchange.hpp>

#include "../test_support.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace onevisit::adapters;
namespace fs = std::filesystem;

namespace {

fs::path fresh_root(const std::string& name) {
  static const onevisit::testing::ScratchDir scratch("onevisit-exchange");  // removed when the tests end
  const auto root = scratch.path() / name;
  fs::remove_all(root);
  fs::create_directories(root / "in");
  return root;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

const char* kApproved = R"(<?xml version="1.0" encoding="UTF-8"?>
<envelope version="1" msgId="r-1" bizType="result" fromNode="market" toNode="onevisit">
  <result caseNo="C1" itemCode="registration" requestId="C1/registration/5/0" status="APPROVED">
    <document material="license" elicenseId="1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002.S"/>
  </result>
</envelope>)";

}  // namespace

TEST_CASE("exchange: requests are written whole, once per idempotency key", "[adapters][exchange]") {
  const auto root = fresh_root("write");
  XmlExchangeAdapter adapter(ExchangeFolders::under(root));
  AdapterCall call{"C1/registration/5/0", "C1", "market", "market_registry", "submit", R"({"company_name":"杭州<一件事>&科技"})", 1};
  REQUIRE(adapter.submit(call).status == AdapterResult::Status::delivered);
  call.attempt = 2;
  REQUIRE(adapter.submit(call).status == AdapterResult::Status::delivered);  // a retry rewrites the same file
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(root / "out")) files.push_back(e.path());
  REQUIRE(files.size() == 1);  // no temporary file left, no second request
  const auto text = read(files[0]);
  CHECK(text.find(R"(msgId="C1/registration/5/0")") != std::string::npos);
  CHECK(text.find(R"(attempt="2")") != std::string::npos);
  CHECK(text.find("杭州&lt;一件事&gt;&amp;科技") != std::string::npos);  // escaped, UTF-8 kept
}

TEST_CASE("exchange: receipts are read, moved aside, and malformed ones quarantined", "[adapters][exchange]") {
  const auto root = fresh_root("read");
  write(root / "in" / "001-approved.xml", kApproved);
  write(root / "in" / "002-garbage.xml", "this is not xml <<<");
  write(root / "in" / "003-truncated.xml", std::string(kApproved).substr(0, 120));
  write(root / "in" / "004-wrong-root.xml", "<receipt/>");
  write(root / "in" / "005-no-reason.xml",
        R"(<envelope version="1" fromNode="tax"><result caseNo="C2" requestId="k" status="REJECTED"/></envelope>)");
  write(root / "in" / "006-bad-status.xml",
        R"(<envelope version="1" fromNode="tax"><result caseNo="C2" requestId="k" status="MAYBE"/></envelope>)");
  write(root / "in" / ".007-being-written.xml", "<partial");
  ReceiptReader reader(ExchangeFolders::under(root));
  const auto result = reader.poll();
  REQUIRE(result.receipts.size() == 1);
  const auto& r = result.receipts[0];
  CHECK(r.case_id == "C1");
  CHECK(r.item == "registration");
  CHECK(r.request_id == "C1/registration/5/0");
  CHECK(r.status == Receipt::Status::approved);
  REQUIRE(r.documents.size() == 1);
  CHECK(r.documents[0].material == "license");
  CHECK(fs::exists(root / "processed" / "001-approved.xml"));
  REQUIRE(result.quarantined.size() == 5);
  for (const auto& q : result.quarantined) {
    CHECK(fs::exists(q.file));
    CHECK(fs::exists(q.file.string() + ".error.txt"));
    CHECK(!q.error.empty());
  }
  CHECK(read(root / "quarantine" / "002-garbage.xml.error.txt").find("not well-formed XML") != std::string::npos);
  CHECK(read(root / "quarantine" / "005-no-reason.xml.error.txt").find("needs a <reason>") != std::string::npos);
  // The file still being written is left for the next poll; nothing is read twice.
  CHECK(fs::exists(root / "in" / ".007-being-written.xml"));
  CHECK(reader.poll().receipts.empty());
}
