// OpenSSL 3 marks the one-shot MD5() deprecated in favour of EVP; it is still
// there, and without EVP's per-call dispatch it is the faster of the two for
// the short inputs (partition keys) hashed here.
#define OPENSSL_API_COMPAT 0x10100000L
#include "kinesis/md5.h"

#include <openssl/md5.h>

namespace sluice::kinesis {

Md5Digest md5(std::string_view data) {
  Md5Digest out;
  MD5(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return out;
}

}  // namespace sluice::kinesis
