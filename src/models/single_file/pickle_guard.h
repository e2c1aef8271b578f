#pragma once
#include <string>

namespace websd::single_file {

// Throws websd::Error when `path` is a pickle checkpoint (.ckpt, .pt, .pth, .bin, .pkl, or a file
// that starts like torch.save's zip or pickle output), saying why websd will not read it and how to
// convert it. Loading a pickle runs whatever Python code it holds, so websd reads weights only
// from safetensors files, which hold nothing but tensors.
void refuse_pickle(const std::string& path);

}  // namespace websd::single_file
