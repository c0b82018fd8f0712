#pragma once

// A throwaway CA, a server certificate for 127.0.0.1 / localhost and a client
// certificate, made with the openssl CLI (Debian package `openssl`) in a fresh temp
// directory that goes away with the object; and a bearer-token file beside them.

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace deltaserve::testing {

class TestCertificates {
 public:
  TestCertificates() {
    Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             Path("ca.key"), "-out", Path("ca.crt"), "-days", "1", "-subj", "/CN=deltaserve test CA"});
    Issue("server", "/CN=localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    Issue("client", "/CN=deltaserve test client", "extendedKeyUsage=clientAuth\n");
  }
  TestCertificates(const TestCertificates&) = delete;
  TestCertificates& operator=(const TestCertificates&) = delete;

  std::string Path(const std::string& name) const { return dir_.File(name); }
  // ca.crt, server.crt, server.key, client.crt, client.key, or a file from WriteFile.
  std::string Read(const std::string& name) const {
    std::ifstream in(Path(name));
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::string WriteFile(const std::string& name, const std::string& contents) const {
    std::ofstream(Path(name)) << contents;
    return Path(name);
  }

 private:
  void Openssl(std::vector<std::string> args) const {
    args.insert(args.begin(), DELTASERVE_OPENSSL);
    const CommandResult result = RunCommand(args);
    EXPECT_EQ(result.exit_code, 0) << "openssl " << args[1] << " failed (is the Debian package openssl installed?): "
                                   << result.err;
  }

  // name.key and name.crt, signed by the CA, with the extensions in `extensions`.
  void Issue(const std::string& name, const std::string& subject, const std::string& extensions) {
    Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             Path(name + ".key"), "-out", Path(name + ".csr"), "-subj", subject});
    Openssl({"x509", "-req", "-in", Path(name + ".csr"), "-CA", Path("ca.crt"), "-CAkey", Path("ca.key"),
             "-set_serial", std::to_string(serial_++), "-days", "1", "-extfile",
             WriteFile(name + ".ext", extensions), "-out", Path(name + ".crt")});
  }

  test_support::TempDir dir_{"deltaserve-tls"};
  int serial_ = 2;
};

}  // namespace deltaserve::testing
