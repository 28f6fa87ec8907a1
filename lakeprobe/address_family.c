/* Pins every name lookup of a process to one address family, for `--per-address`: loaded with LD_PRELOAD
 * and LAKEPROBE_ADDRESS_FAMILY=ipv4 or ipv6, getaddrinfo() answers only the addresses of that family, so
 * client libraries that have no per-call choice of family (gfal2/davix, XrdCl, Python's sockets) reach an
 * endpoint over that family or not at all, with its host name, and so its certificate, unchanged.
 *
 * An IPv4-mapped IPv6 answer (::ffff:a.b.c.d, what XrdCl asks for) is IPv4 on the wire: it counts as IPv4.
 * AI_ADDRCONFIG is dropped: whether this host would prefer IPv6 is not the question, the endpoint is. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifndef __GLIBC__
#error "written for glibc: its freeaddrinfo() frees one answer and its name on their own"
#endif

typedef int (*getaddrinfo_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

static int wanted(void) {
    const char *family = getenv("LAKEPROBE_ADDRESS_FAMILY");
    if (family && strcmp(family, "ipv4") == 0) return AF_INET;
    if (family && strcmp(family, "ipv6") == 0) return AF_INET6;
    return AF_UNSPEC;
}

static int on_the_wire(const struct addrinfo *ai) {
    if (ai->ai_family == AF_INET6 && ai->ai_addr &&
        IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr))
        return AF_INET;
    return ai->ai_family;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
    static getaddrinfo_fn real;
    if (!real) real = (getaddrinfo_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    int want = wanted();
    if (want == AF_UNSPEC || node == NULL) return real(node, service, hints, res);

    struct addrinfo asked;
    memset(&asked, 0, sizeof asked);
    if (hints) asked = *hints;
    asked.ai_flags &= ~AI_ADDRCONFIG;
    int status = real(node, service, &asked, res);
    if (status != 0) return status;

    char *canonical = (*res)->ai_canonname;  /* on the first answer only (AI_CANONNAME): kept for the new first */
    (*res)->ai_canonname = NULL;
    struct addrinfo **link = res;
    while (*link) {
        struct addrinfo *ai = *link;
        if (on_the_wire(ai) == want) {
            link = &ai->ai_next;
            continue;
        }
        *link = ai->ai_next;  /* unlinked, then freed on its own */
        ai->ai_next = NULL;
        freeaddrinfo(ai);
    }
    if (*res == NULL) {
        free(canonical);
        return EAI_NODATA;  /* "no address associated with hostname": the name exists, not in this family */
    }
    (*res)->ai_canonname = canonical;
    return 0;
}
