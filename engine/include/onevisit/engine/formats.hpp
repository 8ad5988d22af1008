// Upload formats: what a file's content is, read from its first bytes (its "magic"), never
// from its name, and whether a material's declared `upload` formats accept it.
//
// A material declares the formats it accepts (`upload pdf, jpg, ofd`, docs/language.md);
// Engine::attach_content refuses content of any other type before it stores a byte, so an
// .exe renamed .pdf is refused and nothing changes (docs/runtime.md, Upload formats).
//
// The formats and how each is recognised:
//   pdf        "%PDF" within the first 1024 bytes (as PDF readers accept it)
//   ofd        a ZIP archive with the entry "OFD.xml" at its root (GB/T 33190)
//   jpg, jpeg  FF D8 FF
//   png        89 50 4E 47 0D 0A 1A 0A
//   tif, tiff  "II*\0" or "MM\0*"
//   doc, xls   an OLE compound file (D0 CF 11 E0 A1 B1 1A E1): the two are not told apart
//   docx       a ZIP archive with "word/document.xml"
//   xlsx       a ZIP archive with "xl/workbook.xml"
//   zip        any ZIP archive (an OFD, DOCX or XLSX file is one too)
//
// All functions are pure and thread-safe.
#pragma once

#include <onevisit/engine/workflow.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace onevisit::engine {

/// The content's type as a format name ("pdf", "ofd", "jpg", "png", "tif", "doc" (an OLE
/// compound file: doc or xls), "docx", "xlsx", "zip"), or, for types no material accepts,
/// "exe" (a Windows program, "MZ"), "elf" (a Linux program); empty when unknown.
std::string_view sniff_format(std::string_view content);

/// True when `content` is of the declared format `format` (a name `upload` takes; "jpeg" and
/// "jpg", "tif" and "tiff" are the same).
bool content_is(std::string_view format, std::string_view content);

/// True when `content` is of one of the material's declared formats; a material that
/// declares none accepts any content.
bool accepts(const MaterialModel& material, std::string_view content);

/// What a file chooser should offer for the material: the HTML `accept` attribute, file
/// name extensions and MIME types ("application/pdf,.pdf,image/jpeg,.jpg,.jpeg"); empty
/// when it declares no formats (any file).
std::string accept_attribute(const MaterialModel& material);

/// A format's name for people ("PDF 文档", "JPG 图片", "可执行程序（exe）" ...).
std::string format_title(std::string_view format);

}  // namespace onevisit::engine
