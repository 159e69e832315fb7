#include "sluice/kinesis/compression.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>
#include <mutex>
#include <vector>

namespace sluice::kinesis {
namespace {

constexpr int kGzipDefaultLevel = 6;
constexpr int kZstdDefaultLevel = 3;
// gzip wrapper: window bits 15, +16 selects the gzip header and trailer.
constexpr int kGzipWindowBits = 15 + 16;
// Contexts kept per pool; more concurrent callers just make new ones.
constexpr std::size_t kMaxPooled = 8;

// A small pool of reusable codec contexts. Deleter frees a context for good.
template <class T, void (*Free)(T*)>
class ContextPool {
 public:
  ~ContextPool() {
    for (T* t : free_) Free(t);
  }
  T* take() {
    std::lock_guard lock(mu_);
    if (free_.empty()) return nullptr;
    T* t = free_.back();
    free_.pop_back();
    return t;
  }
  void give(T* t) {
    {
      std::lock_guard lock(mu_);
      if (free_.size() < kMaxPooled) {
        free_.push_back(t);
        return;
      }
    }
    Free(t);
  }

 private:
  std::mutex mu_;
  std::vector<T*> free_;
};

void free_deflate(z_stream* s) {
  deflateEnd(s);
  delete s;
}
void free_inflate(z_stream* s) {
  inflateEnd(s);
  delete s;
}
void free_cctx(ZSTD_CCtx* c) {
  ZSTD_freeCCtx(c);
}
void free_dctx(ZSTD_DCtx* d) {
  ZSTD_freeDCtx(d);
}

// One deflate pool per level (1..9): a stream keeps its level.
std::array<ContextPool<z_stream, free_deflate>, 10>& deflate_pools() {
  static auto* pools = new std::array<ContextPool<z_stream, free_deflate>, 10>();
  return *pools;
}
ContextPool<z_stream, free_inflate>& inflate_pool() {
  static auto* pool = new ContextPool<z_stream, free_inflate>();
  return *pool;
}
ContextPool<ZSTD_CCtx, free_cctx>& cctx_pool() {
  static auto* pool = new ContextPool<ZSTD_CCtx, free_cctx>();
  return *pool;
}
ContextPool<ZSTD_DCtx, free_dctx>& dctx_pool() {
  static auto* pool = new ContextPool<ZSTD_DCtx, free_dctx>();
  return *pool;
}

std::string zlib_message(const z_stream& s, int rc) {
  if (s.msg != nullptr) return s.msg;
  return "zlib error " + std::to_string(rc);
}

Result<std::string> gzip_compress(std::string_view data, int level) {
  auto& pool = deflate_pools()[static_cast<std::size_t>(level)];
  z_stream* s = pool.take();
  if (s == nullptr) {
    s = new z_stream{};
    const int rc = deflateInit2(s, level, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) {
      delete s;
      return Status::internal("gzip: deflateInit2 failed (" + std::to_string(rc) + ")");
    }
  } else {
    deflateReset(s);
  }
  std::string out;
  out.resize(deflateBound(s, static_cast<uLong>(data.size())));
  s->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s->avail_in = static_cast<uInt>(data.size());
  s->next_out = reinterpret_cast<Bytef*>(out.data());
  s->avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(s, Z_FINISH);
  if (rc != Z_STREAM_END) {
    std::string msg = zlib_message(*s, rc);
    free_deflate(s);
    return Status::internal("gzip: deflate failed: " + msg);
  }
  out.resize(out.size() - s->avail_out);
  pool.give(s);
  return out;
}

Result<std::string> gzip_decompress(std::string_view data, std::size_t max_size) {
  z_stream* s = inflate_pool().take();
  if (s == nullptr) {
    s = new z_stream{};
    const int rc = inflateInit2(s, kGzipWindowBits);
    if (rc != Z_OK) {
      delete s;
      return Status::internal("gzip: inflateInit2 failed (" + std::to_string(rc) + ")");
    }
  } else {
    inflateReset(s);
  }
  std::string out;
  // Start from a guess and grow, never past max_size (+1 to detect overflow).
  std::size_t cap =
      std::min<std::size_t>(std::max<std::size_t>(data.size() * 4, 256), max_size + 1);
  out.resize(cap);
  s->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s->avail_in = static_cast<uInt>(data.size());
  std::size_t produced = 0;
  int rc = Z_OK;
  while (true) {
    s->next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    s->avail_out = static_cast<uInt>(out.size() - produced);
    rc = inflate(s, Z_NO_FLUSH);
    produced = out.size() - s->avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && s->avail_in == 0) {
      free_inflate(s);
      return Status::corruption("gzip: data is truncated");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      std::string msg = zlib_message(*s, rc);
      free_inflate(s);
      return Status::corruption("gzip: " + msg);
    }
    if (produced > max_size) break;
    if (s->avail_out == 0) {
      if (out.size() > max_size) break;
      out.resize(std::min(out.size() * 2, max_size + 1));
    }
  }
  if (produced > max_size) {
    free_inflate(s);
    return Status::corruption("gzip: decompresses to more than " + std::to_string(max_size) +
                              " bytes");
  }
  const bool trailing = s->avail_in != 0;
  inflate_pool().give(s);
  if (trailing) return Status::corruption("gzip: trailing bytes after the compressed data");
  out.resize(produced);
  return out;
}

Result<std::string> zstd_compress(std::string_view data, int level) {
  ZSTD_CCtx* c = cctx_pool().take();
  if (c == nullptr) c = ZSTD_createCCtx();
  if (c == nullptr) return Status::internal("zstd: cannot allocate a compression context");
  std::string out;
  out.resize(ZSTD_compressBound(data.size()));
  const std::size_t n =
      ZSTD_compressCCtx(c, out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) {
    std::string msg = ZSTD_getErrorName(n);
    free_cctx(c);
    return Status::internal("zstd: compression failed: " + msg);
  }
  cctx_pool().give(c);
  out.resize(n);
  return out;
}

Result<std::string> zstd_decompress(std::string_view data, std::size_t max_size) {
  const unsigned long long declared = ZSTD_getFrameContentSize(data.data(), data.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) {
    return Status::corruption("zstd: not a zstd frame");
  }
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > max_size) {
    return Status::corruption("zstd: frame declares " + std::to_string(declared) +
                              " bytes, more than the " + std::to_string(max_size) + " allowed");
  }
  ZSTD_DCtx* d = dctx_pool().take();
  if (d == nullptr) d = ZSTD_createDCtx();
  if (d == nullptr) return Status::internal("zstd: cannot allocate a decompression context");
  ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
  std::string out;
  std::size_t cap =
      declared != ZSTD_CONTENTSIZE_UNKNOWN
          ? static_cast<std::size_t>(declared) + 1
          : std::min<std::size_t>(std::max<std::size_t>(data.size() * 4, 256), max_size + 1);
  out.resize(std::max<std::size_t>(cap, 1));
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  std::size_t produced = 0;
  bool finished = false;
  while (true) {
    ZSTD_outBuffer o{out.data(), out.size(), produced};
    const std::size_t rc = ZSTD_decompressStream(d, &o, &in);
    produced = o.pos;
    if (ZSTD_isError(rc)) {
      std::string msg = ZSTD_getErrorName(rc);
      free_dctx(d);
      return Status::corruption("zstd: " + msg);
    }
    if (rc == 0) {
      finished = true;
      break;
    }
    if (produced > max_size) break;
    if (in.pos == in.size && o.pos < o.size) break;  // needs more input: truncated
    if (o.pos == o.size) {
      if (out.size() > max_size) break;
      out.resize(std::min(out.size() * 2, max_size + 1));
    }
  }
  dctx_pool().give(d);
  if (produced > max_size) {
    return Status::corruption("zstd: decompresses to more than " + std::to_string(max_size) +
                              " bytes");
  }
  if (!finished) return Status::corruption("zstd: data is truncated");
  if (in.pos != in.size) return Status::corruption("zstd: trailing bytes after the frame");
  out.resize(produced);
  return out;
}

}  // namespace

std::string_view compression_name(Compression codec) {
  switch (codec) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
  }
  return "unknown";
}

Result<Compression> parse_compression(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "none" || lower.empty()) return Compression::kNone;
  if (lower == "gzip") return Compression::kGzip;
  if (lower == "zstd") return Compression::kZstd;
  return Status::invalid_argument("unknown compression \"" + std::string(name) +
                                  "\" (choose none, gzip or zstd)");
}

Result<std::string> compress(Compression codec, std::string_view data, int level) {
  switch (codec) {
    case Compression::kNone:
      return std::string(data);
    case Compression::kGzip:
      if (level == 0) level = kGzipDefaultLevel;
      if (level < 1 || level > 9) {
        return Status::invalid_argument("gzip compression level must be 1..9, got " +
                                        std::to_string(level));
      }
      return gzip_compress(data, level);
    case Compression::kZstd:
      if (level == 0) level = kZstdDefaultLevel;
      if (level < 1 || level > 19) {
        return Status::invalid_argument("zstd compression level must be 1..19, got " +
                                        std::to_string(level));
      }
      return zstd_compress(data, level);
  }
  return Status::invalid_argument("unknown compression codec " +
                                  std::to_string(static_cast<int>(codec)));
}

Result<std::string> decompress(Compression codec, std::string_view data, std::size_t max_size) {
  switch (codec) {
    case Compression::kNone:
      if (data.size() > max_size) {
        return Status::corruption("payload of " + std::to_string(data.size()) +
                                  " bytes exceeds the " + std::to_string(max_size) + " allowed");
      }
      return std::string(data);
    case Compression::kGzip:
      return gzip_decompress(data, max_size);
    case Compression::kZstd:
      return zstd_decompress(data, max_size);
  }
  return Status::corruption("unknown compression codec " + std::to_string(static_cast<int>(codec)));
}

}  // namespace sluice::kinesis
