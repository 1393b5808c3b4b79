#include "engine/retention/csv_text.hpp"

#include <algorithm>

namespace topup::engine {
namespace {

constexpr bool starts_formula(char c) noexcept {
  return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

std::string at_line(std::size_t line, std::string_view what) {
  return "line " + std::to_string(line) + ": " + std::string(what);
}

/// Where a reading of records stands: the text, the next byte, the line that byte is on.
struct csv_cursor {
  std::string_view text;
  std::size_t pos = 0;
  std::size_t line = 1;

  bool at_end() const noexcept { return pos >= text.size(); }
  bool at(std::string_view s) const noexcept { return text.substr(pos, s.size()) == s; }
};

/// A field in quotes, the cursor on its opening quote; leaves it after the closing one.
text_result<std::string> read_quoted_field(csv_cursor& in) {
  const std::size_t start_line = in.line;
  std::string value;
  ++in.pos;
  for (;;) {
    const std::size_t quote = in.text.find('"', in.pos);
    if (quote == std::string_view::npos) return fail(at_line(start_line, "unclosed quote"));
    const std::string_view chunk = in.text.substr(in.pos, quote - in.pos);
    in.line += static_cast<std::size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
    value.append(chunk);
    in.pos = quote + 1;
    if (!in.at("\"")) return value;
    value.push_back('"');  // "" inside quotes is one quote
    ++in.pos;
  }
}

/// A field without quotes: up to the next `,` CR or LF (or the end).
text_result<std::string> read_plain_field(csv_cursor& in) {
  const std::size_t end = std::min(in.text.find_first_of(",\r\n", in.pos), in.text.size());
  const std::string_view value = in.text.substr(in.pos, end - in.pos);
  if (value.find('"') != std::string_view::npos) {
    return fail(at_line(in.line, "quote inside an unquoted field"));
  }
  in.pos = end;
  return std::string(value);
}

/// One record, the cursor at its first byte; leaves it after the record's CRLF.
text_result<csv_row> read_row(csv_cursor& in) {
  csv_row row{{}, in.line};
  for (;;) {
    auto field = in.at("\"") ? read_quoted_field(in) : read_plain_field(in);
    if (!field) return std::move(field.error());
    row.fields.push_back(std::move(*field));
    if (in.at(",")) {
      ++in.pos;
      continue;
    }
    if (in.at(k_csv_record_end)) {
      in.pos += k_csv_record_end.size();
      ++in.line;
      return row;
    }
    if (in.at_end()) return fail(at_line(in.line, "record not ended by CRLF"));
    return fail(at_line(in.line, "bare CR or LF, or text after a closing quote"));
  }
}

}  // namespace

std::string guard_formula(std::string_view text) {
  if (!text.empty() && (starts_formula(text.front()) || text.front() == '\'')) {
    return "'" + std::string(text);
  }
  return std::string(text);
}

std::string unguard_formula(std::string_view field) {
  if (field.size() >= 2 && field.front() == '\'' &&
      (starts_formula(field[1]) || field[1] == '\'')) {
    field.remove_prefix(1);
  }
  return std::string(field);
}

std::string csv_field(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string quoted = "\"";
  for (const char c : value) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

std::string csv_record(const std::vector<std::string>& fields) {
  std::string record;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) record.push_back(',');
    record += csv_field(fields[i]);
  }
  record += k_csv_record_end;
  return record;
}

text_result<std::vector<csv_row>> read_csv_rows(std::string_view text, std::size_t first_line) {
  csv_cursor in{text, 0, first_line};
  std::vector<csv_row> rows;
  while (!in.at_end()) {
    auto row = read_row(in);
    if (!row) return std::move(row.error());
    rows.push_back(std::move(*row));
  }
  return rows;
}

}  // namespace topup::engine
