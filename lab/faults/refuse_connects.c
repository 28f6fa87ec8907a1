/* The `no-route-to-RSE` fault: loaded into a lab XRootD server (and its root:// TPC agent) with LD_PRELOAD,
 * it refuses every outgoing TCP connection to the ports in $LAKEPROBE_REFUSED_PORTS (comma-separated), as a
 * firewall between two sites would: the server cannot reach that peer, while everything else works. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int refused(const struct sockaddr *addr) {
    const char *ports = getenv("LAKEPROBE_REFUSED_PORTS");
    int port;
    char buf[256], *item, *save = NULL;
    if (!ports || !addr) return 0;
    if (addr->sa_family == AF_INET) port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
    else if (addr->sa_family == AF_INET6) port = ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
    else return 0;
    snprintf(buf, sizeof buf, "%s", ports);
    for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save))
        if (atoi(item) == port) return 1;
    return 0;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real) real = dlsym(RTLD_NEXT, "connect");
    if (refused(addr)) {
        errno = ECONNREFUSED;
        return -1;
    }
    return real(fd, addr, len);
}
