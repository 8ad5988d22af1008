// Upload formats are checked by content (issue 14: an .exe renamed .pdf was accepted).
#include <catch2/catch.hpp>

#include <onevisit/engine/engine.hpp>
#include <onevisit/engine/formats.hpp>

#include "../test_support.hpp"

using namespace onevisit;
using namespace onevisit::engine;
using dsl::Value;

namespace {

const std::string kFlow = R"(
lifecycle simple {
  state submitted "已提交" initial; state approved "已办结" final
  on approve: submitted -> approved by clerk when materials.complete
}
department market "市场监管局" adapter market_registry
material plan "平面图" upload pdf, jpg, png
material scan "扫描件" upload tif
material licence_copy "执照副本" upload ofd
material statement "说明" upload doc, docx
material sheet "清单" upload xls, xlsx
material archive "资料包" upload zip
material anything "其他材料"
item filing "备案" by market { limit 5 workdays; needs plan, scan, licence_copy, statement, sheet, archive, anything }
bundle formats "格式" version 1 {
  lifecycle simple
  form { company_name "企业名称": text required }
  use filing
}
)";

// An .exe's first bytes: "MZ", the DOS stub, then the PE header.
const std::string kExe = std::string("MZ\x90\x00\x03\x00\x00\x00", 8) + "This program cannot be run in DOS mode.";

struct Office {
  VirtualClock clock{(dsl::days_from_civil({2026, 12, 7}) * 24 * 60 + 10 * 60) * 60'000};
  std::unique_ptr<Engine> engine;
  std::string case_id;
  Office() {
    auto opened = Engine::open({":memory:", &clock});
    REQUIRE(opened);
    engine = std::move(*opened);
    auto deployed = engine->deploy_sources({{"formats.flow", kFlow}}, {"formats.flow"});
    if (!deployed) FAIL(deployed.error().message << testing::describe(deployed.error().diagnostics));
    auto started = engine->start_case("formats", {{"company_name", Value::of_text("小馆")}}, "", {"", "clerk-1", "clerk"});
    REQUIRE(started);
    case_id = started->case_id;
  }
  std::expected<CommandResult, EngineError> upload(const std::string& material, const std::string& content, const std::string& name) {
    return engine->attach_content(case_id, material, content, name, {"", "clerk-1", "clerk"});
  }
  MaterialStatus status(const std::string& material) {
    auto view = engine->get_case(case_id);
    REQUIRE(view);
    return view->state.materials[*view->workflow->find_material(material)].status;
  }
};

}  // namespace

TEST_CASE("formats: each format is recognised by its first bytes, not by its name", "[formats]") {
  for (const std::string format : {"pdf", "ofd", "jpg", "png", "tif", "doc", "docx", "xlsx", "zip"}) {
    INFO(format);
    CHECK(sniff_format(testing::sample_file(format, "内容")) == format);
    CHECK(content_is(format, testing::sample_file(format, "内容")));
  }
  CHECK(content_is("jpeg", testing::sample_file("jpg", "x")));
  CHECK(content_is("tiff", std::string("MM\0*", 4) + "big-endian"));
  CHECK(content_is("xls", testing::sample_file("doc", "x")));  // both are OLE compound files
  CHECK(sniff_format(kExe) == "exe");
  CHECK(sniff_format("\x7F" "ELF\x02\x01") == "elf");
  CHECK(sniff_format("").empty());
  CHECK(sniff_format("just text, named whatever.pdf").empty());
  // Impostors: a ZIP is no OFD without OFD.xml, nor a DOCX without word/document.xml; an OFD is a ZIP.
  const auto zip = testing::zip_archive({{"readme.txt", "x"}});
  CHECK_FALSE(content_is("ofd", zip));
  CHECK_FALSE(content_is("docx", zip));
  CHECK(content_is("zip", testing::sample_file("ofd", "x")));
  CHECK_FALSE(content_is("ofd", testing::zip_archive({{"Doc_0/OFD.xml", "x"}})));  // not at the root
  // A damaged archive (cut short, or a directory pointing past its end) is none.
  const auto ofd = testing::sample_file("ofd", "内容");
  CHECK_FALSE(content_is("ofd", ofd.substr(0, ofd.size() - 10)));
  CHECK_FALSE(content_is("zip", std::string("PK\x03\x04", 4) + std::string(40, '\xFF')));
  auto pointing_out = ofd;
  pointing_out[pointing_out.size() - 3] = '\x7F';  // the directory's offset, far past the end
  CHECK_FALSE(content_is("ofd", pointing_out));
  CHECK_FALSE(content_is("png", std::string("\x89PNG", 4)));
  CHECK_FALSE(content_is("jpg", "\xFF\xD8"));
}

TEST_CASE("formats: an upload is refused unless its content is a declared format, and nothing changes", "[formats][engine]") {
  Office office;
  // A program renamed .pdf: refused, with the material's title, the formats it takes and what the file is.
  auto exe = office.upload("plan", kExe, "平面图.pdf");
  REQUIRE_FALSE(exe);
  REQUIRE(exe.error().kind == EngineError::Kind::rejected);
  REQUIRE(exe.error().rejection);
  const auto& r = *exe.error().rejection;
  CHECK(r.code == Rejection::Code::invalid);
  CHECK(r.reason == "unsupported_format");
  CHECK(r.message == "「平面图」只接受PDF 文档、JPG 图片、PNG 图片。所选文件“平面图.pdf”的内容是可执行程序（exe）（按文件内容判断，与文件名无关），请另选文件。");
  CHECK(exe.error().message == r.message);
  CHECK(r.details.at("formats") == std::vector<std::string>{"pdf", "jpg", "png"});
  CHECK(r.details.at("detected") == std::vector<std::string>{"exe"});
  CHECK(r.detail == "Expected material 'plan' in pdf, jpg, png, but the content is exe");
  CHECK(office.status("plan") == MaterialStatus::missing);
  CHECK_FALSE(office.engine->contents().get(Engine::content_hash(kExe))->has_value());  // not even stored
  // Every declared format with its real header is taken; a file of another format is not.
  const std::vector<std::tuple<std::string, std::string, std::string>> cases{
      {"plan", "pdf", "ofd"},        {"plan", "jpg", "tif"},     {"plan", "png", "zip"},
      {"scan", "tif", "png"},        {"licence_copy", "ofd", "zip"},
      {"statement", "doc", "pdf"},   {"statement", "docx", "xlsx"},
      {"sheet", "xls", "jpg"},       {"sheet", "xlsx", "docx"},  {"archive", "zip", "pdf"}};
  for (const auto& [material, format, impostor] : cases) {
    INFO(material << " as " << format << ", impostor " << impostor);
    Office fresh;
    auto wrong = fresh.upload(material, testing::sample_file(impostor, "x"), material + "." + format);
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().rejection->reason == "unsupported_format");
    CHECK(fresh.status(material) == MaterialStatus::missing);
    auto right = fresh.upload(material, testing::sample_file(format, "内容"), material + ".bin");
    if (!right) FAIL(right.error().message);
    CHECK(fresh.status(material) == MaterialStatus::submitted);
  }
  // Plain text named .pdf is refused too; a material that declares no format takes anything.
  CHECK_FALSE(office.upload("plan", "not a pdf", "x.pdf"));
  CHECK(office.upload("anything", kExe, "whatever.exe"));
}

TEST_CASE("formats: the accept attribute a page sets for a material", "[formats]") {
  Office office;
  const auto wf = office.engine->workflow("formats");
  REQUIRE(wf);
  CHECK(accept_attribute(wf->materials[*wf->find_material("plan")]) == "application/pdf,.pdf,image/jpeg,.jpg,.jpeg,image/png,.png");
  CHECK(accept_attribute(wf->materials[*wf->find_material("licence_copy")]) == "application/ofd,.ofd");
  CHECK(accept_attribute(wf->materials[*wf->find_material("anything")]).empty());
}
