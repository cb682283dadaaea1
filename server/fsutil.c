/*
 * server/fsutil.c — see fsutil.h.
 */
#include "server/fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

int fsutil_mkdir_p(const char *path)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s", path);
    if (n <= 0 || (size_t)n >= sizeof tmp)
        return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    return mkdir(tmp, 0750) < 0 && errno != EEXIST ? -errno : 0;
}
