/* The `corrupt` fault: loaded into a lab XRootD server with LD_PRELOAD, it flips one bit in every block
 * written to a regular file under $LAKEPROBE_CORRUPT_ROOT. The server then stores (and checksums, and
 * serves) bytes that differ from what the client sent, as a failing disk or controller would. Its root://
 * TPC agent (xrdcp --server, which inherits the preload) writes with POSIX AIO: aio_write is covered too. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include <aio.h>

static int under_root(int fd) {
    const char *root = getenv("LAKEPROBE_CORRUPT_ROOT");
    char link[64], path[PATH_MAX];
    struct stat st;
    if (!root || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = 0;
    return strncmp(path, root, strlen(root)) == 0;
}

#define CORRUPTING(fn, ret, params, call_args, buf, count)                        \
    ret fn params {                                                               \
        static ret (*real) params;                                                \
        if (!real) real = dlsym(RTLD_NEXT, #fn);                                  \
        if (count > 0 && under_root(fd)) {                                        \
            char *copy = malloc(count);                                           \
            if (copy) {                                                           \
                memcpy(copy, buf, count);                                         \
                copy[0] ^= 0x01;                                                  \
                const void *orig = buf; buf = copy;                               \
                ret r = real call_args;                                           \
                buf = orig; free(copy);                                           \
                return r;                                                         \
            }                                                                     \
        }                                                                         \
        return real call_args;                                                    \
    }

CORRUPTING(write, ssize_t, (int fd, const void *buf, size_t count), (fd, buf, count), buf, count)
CORRUPTING(pwrite, ssize_t, (int fd, const void *buf, size_t count, off_t off), (fd, buf, count, off), buf, count)
CORRUPTING(pwrite64, ssize_t, (int fd, const void *buf, size_t count, off_t off), (fd, buf, count, off), buf, count)

/* An AIO buffer must stay valid until the write completes: its first byte is flipped in place. */
#define CORRUPTING_AIO(fn, cbtype)                                                \
    int fn(cbtype *cb) {                                                          \
        static int (*real)(cbtype *);                                             \
        if (!real) real = dlsym(RTLD_NEXT, #fn);                                  \
        if (cb && cb->aio_nbytes > 0 && under_root(cb->aio_fildes))               \
            ((volatile char *)cb->aio_buf)[0] ^= 0x01;                            \
        return real(cb);                                                          \
    }

CORRUPTING_AIO(aio_write, struct aiocb)
CORRUPTING_AIO(aio_write64, struct aiocb64)
