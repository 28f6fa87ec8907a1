// An XRootD authorization wrapper that makes token scope paths end at a slash boundary.
//
// XRootD 5.5's SciTokens plugin grants a request when a scope's path is a plain string prefix of the
// requested path, so a token for /data/alice also reads and writes /data/alice-old and /data/alicex
// (fixed upstream in 5.6). Stacked after it, this wrapper is asked first and refuses a request that
// only such a prefix would allow; every other request goes on to SciTokens unchanged. It never grants
// anything itself and does not verify tokens (SciTokens does): it only reads their `scope` (and `aud`).
//
//   ofs.authlib ++ libXrdAccSciTokens.so config=/etc/xrootd/scitokens.cfg
//   ofs.authlib ++ /usr/local/lib/scope_boundary.so base_path=/
//
// `base_path` must be the SciTokens issuer's base_path (scope paths are relative to it). The lab's fault
// `single-audience` adds `single_audience`: tokens whose `aud` is a list are refused, as by a storage that
// reads the claim only as one string; `trailing-slash` adds `keep_trailing_slash`: a scope path's trailing
// slash is kept when matching, so `storage.read:/data/` reaches nothing below /data (a naive boundary match).
// Build: g++ -shared -fPIC -O2 -I/usr/include/xrootd -o scope_boundary.so scope_boundary.cc

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "XrdAcc/XrdAccAuthorize.hh"
#include "XrdOuc/XrdOucEnv.hh"
#include "XrdSec/XrdSecEntity.hh"
#include "XrdSys/XrdSysError.hh"
#include "XrdSys/XrdSysLogger.hh"
#include "XrdVersion.hh"

namespace {

// The storage scopes that allow each operation, as XRootD 5.5's SciTokens plugin maps them (its
// `read`, `write` names are the SciTokens profile's).
std::set<std::string> ScopesFor(Access_Operation oper) {
    switch (oper) {
    case AOP_Read: case AOP_Readdir: case AOP_Stat:
        return {"storage.read", "read"};
    case AOP_Excl_Create: case AOP_Excl_Insert: case AOP_Mkdir: case AOP_Rename:
        return {"storage.create", "storage.modify", "write"};
    case AOP_Create: case AOP_Insert: case AOP_Update: case AOP_Chmod: case AOP_Delete:
        return {"storage.modify", "write"};
    default:
        return {};  // no opinion: SciTokens decides
    }
}

// "/a//b/./" -> "/a/b" (as SciTokens makes its scope paths canonical); ".." is refused (empty).
std::string Canonical(const std::string &path) {
    std::string out;
    size_t pos = 0;
    while (pos < path.size()) {
        size_t next = path.find('/', pos);
        std::string part = path.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
        if (part == "..") return "";
        if (!part.empty() && part != ".") out += "/" + part;
        if (next == std::string::npos) break;
        pos = next + 1;
    }
    return out.empty() ? "/" : out;
}

std::string Base64UrlDecode(const std::string &in) {
    static const std::string alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    unsigned value = 0;
    int bits = 0;
    for (char c : in) {
        size_t index = alphabet.find(c);
        if (index == std::string::npos) break;
        value = (value << 6) | index;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((value >> bits) & 0xff);
        }
    }
    return out;
}

// The space-separated words of `text` (a scope claim, the plugin's parameters).
std::vector<std::string> Words(const std::string &text) {
    std::vector<std::string> words;
    for (size_t pos = 0; pos < text.size();) {
        size_t end = text.find(' ', pos);
        if (end == std::string::npos) end = text.size();
        if (end > pos) words.push_back(text.substr(pos, end - pos));
        pos = end + 1;
    }
    return words;
}

// A JWT's payload, or "" when the token is not one.
std::string Payload(const std::string &token) {
    size_t first = token.find('.'), second = token.find('.', first + 1);
    if (first == std::string::npos || second == std::string::npos) return "";
    return Base64UrlDecode(token.substr(first + 1, second - first - 1));
}

// Whether the token's `aud` claim is a list.
bool AudienceIsList(const std::string &token) {
    std::string payload = Payload(token);
    size_t key = payload.find("\"aud\"");
    if (key == std::string::npos) return false;
    size_t value = payload.find_first_not_of(" \t\n", payload.find(':', key) + 1);
    return value != std::string::npos && payload[value] == '[';
}

// The `scope` claim of a JWT's payload, or "" when there is none or it cannot be read simply.
std::string ScopeClaim(const std::string &token) {
    std::string payload = Payload(token);
    size_t key = payload.find("\"scope\"");
    if (key == std::string::npos) return "";
    size_t quote = payload.find('"', payload.find(':', key) + 1);
    if (quote == std::string::npos) return "";
    std::string scope;
    for (size_t i = quote + 1; i < payload.size() && payload[i] != '"'; i++) {
        if (payload[i] == '\\') {
            if (++i >= payload.size() || payload[i] == 'u') return "";  // rare in scopes: no opinion
        }
        scope += payload[i];
    }
    return scope;
}

class ScopeBoundary : public XrdAccAuthorize {
public:
    ScopeBoundary(XrdSysLogger *logger, XrdAccAuthorize *chain, const std::string &base_path,
                  bool single_audience, bool keep_trailing_slash)
        : m_log(logger, "scope_boundary_"), m_chain(chain), m_base(base_path),
          m_single_audience(single_audience), m_keep_trailing_slash(keep_trailing_slash) {}

    XrdAccPrivs Access(const XrdSecEntity *entity, const char *path, const Access_Operation oper,
                       XrdOucEnv *env) override {
        std::string token = Token(entity, env);
        if (m_single_audience && AudienceIsList(token)) {
            m_log.Emsg("Access", "refused: the token names several audiences");
            return XrdAccPriv_None;
        }
        if (PrefixOnly(token, path, oper)) {
            m_log.Emsg("Access", "refused: the token's scope path is a prefix of", path,
                       "without a slash boundary");
            return XrdAccPriv_None;
        }
        return m_chain->Access(entity, path, oper, env);
    }

    int Audit(const int accok, const XrdSecEntity *entity, const char *path, const Access_Operation oper,
              XrdOucEnv *env) override {
        return m_chain->Audit(accok, entity, path, oper, env);
    }

    int Test(const XrdAccPrivs priv, const Access_Operation oper) override {
        return m_chain->Test(priv, oper);
    }

private:
    // Where SciTokens finds a token: the request's `authz` (an HTTP Authorization header), else the
    // session's ztn credential.
    static std::string Token(const XrdSecEntity *entity, XrdOucEnv *env) {
        const char *authz = env ? env->Get("authz") : nullptr;
        if (authz && !strncmp(authz, "Bearer%20", 9)) authz += 9;
        if (!authz && entity && !strcmp(entity->prot, "ztn") && entity->creds && entity->credslen > 0)
            return std::string(entity->creds, entity->credslen);
        return authz ? authz : "";
    }

    // True when some scope allowing `oper` is a string prefix of `path` and none contains it as a
    // directory (equal, or followed by '/').
    bool PrefixOnly(const std::string &token, const char *path, Access_Operation oper) const {
        std::set<std::string> allowing = ScopesFor(oper);
        if (token.empty() || allowing.empty() || !path) return false;
        std::string requested(path);
        bool prefix = false;
        for (const std::string &scope : Words(ScopeClaim(token))) {
            size_t colon = scope.find(':');
            if (colon == std::string::npos || !allowing.count(scope.substr(0, colon))) continue;
            std::string granted = Canonical(m_base + "/" + scope.substr(colon + 1));
            if (granted.empty()) continue;
            if (m_keep_trailing_slash && scope.back() == '/' && granted != "/") granted += "/";
            if (granted == "/" || requested == granted || requested.rfind(granted + "/", 0) == 0) return false;
            if (requested.rfind(granted, 0) == 0) prefix = true;
        }
        return prefix;
    }

    XrdSysError m_log;
    XrdAccAuthorize *m_chain;
    std::string m_base;
    bool m_single_audience;
    bool m_keep_trailing_slash;
};

}  // namespace

extern "C" XrdAccAuthorize *XrdAccAuthorizeObjAdd(XrdSysLogger *logger, const char * /*config*/,
                                                  const char *parms, XrdOucEnv * /*env*/,
                                                  XrdAccAuthorize *chain) {
    std::string base = "/";
    bool single_audience = false, keep_trailing_slash = false;
    for (const std::string &word : Words(parms ? parms : "")) {
        if (!word.compare(0, 10, "base_path=")) base = word.substr(10);
        if (word == "single_audience") single_audience = true;
        if (word == "keep_trailing_slash") keep_trailing_slash = true;
    }
    if (!chain) return nullptr;  // nothing to wrap: this plugin never decides alone
    return new ScopeBoundary(logger, chain, base, single_audience, keep_trailing_slash);
}

XrdVERSIONINFO(XrdAccAuthorizeObjAdd, scope_boundary);
