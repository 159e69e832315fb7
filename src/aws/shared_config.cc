#include "sluice/aws/shared_config.h"

#include <filesystem>
#include <vector>

#include "aws/auth_util.h"

namespace sluice::aws {

namespace ai = auth_internal;

std::optional<std::string> ConfigSection::get(std::string_view key) const {
  auto it = properties.find(key);
  if (it == properties.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::optional<std::string> ConfigSection::sub(std::string_view key,
                                              std::string_view sub_key) const {
  auto it = sub_properties.find(key);
  if (it == sub_properties.end()) return std::nullopt;
  auto jt = it->second.find(sub_key);
  if (jt == it->second.end() || jt->second.empty()) return std::nullopt;
  return jt->second;
}

const ConfigSection* SharedConfig::profile(std::string_view name) const {
  auto it = profiles.find(name);
  return it == profiles.end() ? nullptr : &it->second;
}

std::string default_profile_name() {
  if (auto p = ai::env("AWS_PROFILE")) return std::string(ai::trim(*p));
  return "default";
}

std::string shared_config_file_path(const SharedConfigFiles& files) {
  if (!files.config_file.empty()) return ai::expand_home(files.config_file);
  if (auto p = ai::env("AWS_CONFIG_FILE")) return ai::expand_home(*p);
  return ai::expand_home("~/.aws/config");
}

std::string shared_credentials_file_path(const SharedConfigFiles& files) {
  if (!files.credentials_file.empty()) return ai::expand_home(files.credentials_file);
  if (auto p = ai::env("AWS_SHARED_CREDENTIALS_FILE")) return ai::expand_home(*p);
  return ai::expand_home("~/.aws/credentials");
}

namespace {

// Cuts a comment that follows whitespace: "value  # note" -> "value".
std::string_view strip_trailing_comment(std::string_view s) {
  for (std::size_t i = 1; i < s.size(); ++i) {
    if ((s[i] == '#' || s[i] == ';') && (s[i - 1] == ' ' || s[i - 1] == '\t'))
      return s.substr(0, i);
  }
  return s;
}

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c == ' ' || c == '\t' || c == '[' || c == ']') return false;
  }
  return true;
}

enum class FileKind { kConfig, kCredentials };

void parse_file(std::string_view text, FileKind kind, const std::string& path, SharedConfig& out,
                std::map<std::string, ConfigSection, std::less<>>& profiles) {
  ConfigSection* section = nullptr;  // null: outside any section (or in one skipped)
  std::string last_key;              // the property the next indented line belongs to
  bool last_key_is_parent = false;
  int line_no = 0;
  auto warn = [&](const std::string& why) {
    out.warnings.push_back(path + " line " + std::to_string(line_no) + ": " + why);
  };
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0; pos < text.size();) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  for (std::string_view raw : lines) {
    ++line_no;
    if (raw.ends_with('\r')) raw.remove_suffix(1);
    const std::string_view trimmed = ai::trim(raw);
    if (trimmed.empty() || trimmed.front() == '#' || trimmed.front() == ';') {
      continue;
    }
    const bool indented = raw.front() == ' ' || raw.front() == '\t';
    if (!indented && trimmed.front() == '[') {
      last_key.clear();
      section = nullptr;
      const std::string_view head = ai::trim(strip_trailing_comment(trimmed));
      if (!head.ends_with(']')) {
        warn("section header without ']'; section skipped");
      } else {
        std::string_view inner = ai::trim(head.substr(1, head.size() - 2));
        if (kind == FileKind::kCredentials) {
          if (valid_name(inner)) {
            section = &profiles[std::string(inner)];
          } else {
            warn("bad profile name; section skipped");
          }
        } else {
          // config: [default], [profile name], [sso-session name], [services name]
          auto take = [&](std::string_view prefix,
                          std::map<std::string, ConfigSection, std::less<>>& into) {
            if (!inner.starts_with(prefix)) return false;
            const std::string_view rest = inner.substr(prefix.size());
            if (rest.empty() || (rest.front() != ' ' && rest.front() != '\t')) return false;
            const std::string_view name = ai::trim(rest);
            if (valid_name(name)) {
              section = &into[std::string(name)];
            } else {
              warn("bad section name; section skipped");
            }
            return true;
          };
          if (inner == "default") {
            section = &profiles["default"];
          } else if (take("profile", profiles) || take("sso-session", out.sso_sessions) ||
                     take("services", out.services)) {
          } else {
            // [name] without "profile " is ignored in the config file, as the SDKs do.
            warn("section is neither [default] nor [profile <name>]; skipped");
          }
        }
      }
      continue;
    }
    if (section == nullptr) {
      continue;  // outside a section, or in a skipped one
    }
    const std::string_view content = ai::trim(strip_trailing_comment(trimmed));
    if (indented && !last_key.empty()) {
      if (last_key_is_parent) {
        const auto eq = content.find('=');
        if (eq == std::string_view::npos) {
          warn("sub-property without '='; skipped");
        } else {
          section->sub_properties[last_key][ai::to_lower(ai::trim(content.substr(0, eq)))] =
              std::string(ai::trim(content.substr(eq + 1)));
        }
      } else {
        auto& v = section->properties[last_key];
        v.append("\n").append(content);
      }
      continue;
    }
    const auto eq = content.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      warn("expected \"key = value\"; line skipped");
      last_key.clear();
      continue;
    }
    last_key = ai::to_lower(ai::trim(content.substr(0, eq)));
    const std::string value(ai::trim(content.substr(eq + 1)));
    last_key_is_parent = value.empty();
    section->properties[last_key] = value;
  }
}

}  // namespace

SharedConfig parse_shared_config(std::string_view config_text, std::string_view credentials_text,
                                 std::string config_path, std::string credentials_path) {
  SharedConfig out;
  out.config_path = std::move(config_path);
  out.credentials_path = std::move(credentials_path);
  std::map<std::string, ConfigSection, std::less<>> from_credentials;
  parse_file(config_text, FileKind::kConfig, out.config_path, out, out.profiles);
  parse_file(credentials_text, FileKind::kCredentials, out.credentials_path, out, from_credentials);
  for (auto& [name, section] : from_credentials) {
    ConfigSection& merged = out.profiles[name];
    merged.name = name;
    for (auto& [k, v] : section.properties) merged.properties[k] = v;
    for (auto& [k, v] : section.sub_properties) merged.sub_properties[k] = v;
  }
  for (auto& [name, section] : out.profiles) section.name = name;
  for (auto& [name, section] : out.sso_sessions) section.name = name;
  for (auto& [name, section] : out.services) section.name = name;
  return out;
}

Result<SharedConfig> load_shared_config(const SharedConfigFiles& files) {
  const std::string config_path = shared_config_file_path(files);
  const std::string credentials_path = shared_credentials_file_path(files);
  auto read = [](const std::string& path) -> Result<std::string> {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return std::string();
    if (std::filesystem::is_directory(path, ec)) {
      return Status::io_error("cannot read " + path + ": it is a directory");
    }
    return ai::read_text_file(path);
  };
  SLUICE_ASSIGN_OR_RETURN(std::string config_text, read(config_path));
  SLUICE_ASSIGN_OR_RETURN(std::string credentials_text, read(credentials_path));
  return parse_shared_config(config_text, credentials_text, config_path, credentials_path);
}

}  // namespace sluice::aws
