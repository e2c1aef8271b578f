#include "models/single_file/pickle_guard.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace websd::single_file {
namespace {

bool pickle_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".ckpt" || ext == ".pt" || ext == ".pth" || ext == ".bin" || ext == ".pkl";
}

// torch.save writes a zip archive (PK\3\4) since PyTorch 1.6, a bare pickle (\x80, protocol 2-5)
// before. A safetensors file starts with its header length and then '{' at byte 8, which tells the
// two apart even when the length's first bytes happen to look the same.
bool pickle_content(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<unsigned char, 9> head{};
  if (!in.read(reinterpret_cast<char*>(head.data()), head.size())) return false;
  if (head[8] == '{') return false;
  const bool zip = head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
  const bool pickle = head[0] == 0x80 && head[1] >= 2 && head[1] <= 5;
  return zip || pickle;
}

}  // namespace

void refuse_pickle(const std::string& path) {
  if (!pickle_extension(path) && !pickle_content(path)) return;
  const std::string stem = std::filesystem::path(path).stem().string();
  throw Error(path +
              ": a pickle checkpoint (PyTorch's torch.save format). Loading one runs any Python code stored in "
              "it, so websd only reads safetensors files, which hold nothing but tensors. Convert it once with "
              "Python, on a machine where running that file is safe: `import torch, safetensors.torch as st; "
              "sd = torch.load('" + path + "', map_location='cpu', weights_only=True); "
              "st.save_file(sd.get('state_dict', sd), '" + stem + ".safetensors')` (or diffusers' "
              "scripts/convert_original_stable_diffusion_to_diffusers.py, which writes a diffusers folder), "
              "then pass the .safetensors file or the folder to --model");
}

}  // namespace websd::single_file
