// A single-file checkpoint's tensor names and shapes (what SingleFileCheckpoint::open takes from the
// file's header), one component at a time: lines "name d0 d1 ...", names relative to the
// component's prefix. Byte 0 picks the component; then, as a load does, the LDM names are mapped
// to diffusers' (ldm_names), the sizes read from the shapes (config_sizes) are written over the
// family's standard config, and the model's config parser reads the result.
#include <charconv>
#include <functional>
#include <sstream>
#include <vector>

#include "fuzz_support.h"
#include "io/config.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/single_file/config_sizes.h"
#include "models/single_file/ldm_names.h"
#include "models/unet_config.h"

namespace {

namespace sf = websd::single_file;
using Component = std::function<void(const sf::StoredTensors&)>;

nlohmann::json standard(const std::string& relative) {
  try {
    return websd::read_json_file(WEBSD_ASSETS_DIR "/configs/" + relative + "/config.json");
  } catch (const websd::Error& e) {
    websd::fuzz::harness_failure(e.what());
  }
}

websd::ConfigReader sized(nlohmann::json config) { return websd::ConfigReader(std::move(config), "fuzz (sized config)"); }

Component unet(const std::string& family) {
  return [config = standard(family + "/unet")](const sf::StoredTensors& stored) {
    const nlohmann::json sizes = sf::unet_sizes(sf::map_unet(stored));
    websd::UNetConfig::parse(sized(sf::sized_unet_config(config, sizes, "fuzz (unet)")));
  };
}

Component clip(const std::string& component, sf::DiffusersTensors (*map)(const sf::StoredTensors&)) {
  return [config = standard(component), map](const sf::StoredTensors& stored) {
    const nlohmann::json sizes = sf::clip_sizes(map(stored));
    websd::ClipTextConfig::parse(sized(sf::sized_clip_config(config, sizes, "fuzz (text encoder)")));
  };
}

const std::vector<Component>& components() {
  static const std::vector<Component> table = {
      unet("sd15"),
      unet("sdxl"),
      [config = standard("sd15/vae")](const sf::StoredTensors& stored) {
        websd::AutoencoderKLConfig::parse(sized(sf::sized_config(config, sf::vae_sizes(sf::map_vae(stored)))));
      },
      clip("sd15/text_encoder", sf::map_clip),
      clip("sdxl/text_encoder", sf::map_clip),
      clip("sdxl/text_encoder_2", sf::map_open_clip),
  };
  return table;
}

// The shapes a safetensors header can give: dimensions whose product stays within 2^62 (any
// dimension goes beside a 0); lines that are no such "name dims..." are left out.
sf::StoredTensors parse_lines(const std::string& text) {
  sf::StoredTensors stored;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string name, dim;
    if (!(fields >> name)) continue;
    websd::Shape shape;
    uint64_t count = 1;
    bool valid = true;
    while (valid && fields >> dim) {
      uint64_t v = 0;
      const auto r = std::from_chars(dim.data(), dim.data() + dim.size(), v);
      valid = r.ec == std::errc() && r.ptr == dim.data() + dim.size() && v <= INT64_MAX;
      if (valid && v != 0 && count > (1ull << 62) / v) valid = false;
      count *= v;
      shape.push_back(static_cast<int64_t>(v));
    }
    if (valid) stored[name] = shape;
  }
  return stored;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Component& component = components()[data[0] % components().size()];
  const sf::StoredTensors stored = parse_lines(websd::fuzz::text(data + 1, size - 1));
  websd::fuzz::expect_clean([&] { component(stored); });
  return 0;
}
