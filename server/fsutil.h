/*
 * server/fsutil.h — small file-system helpers the JetStream engine and the
 * raft glue share (the store has its own, closer to its formats).
 */
#ifndef TERN_SERVER_FSUTIL_H
#define TERN_SERVER_FSUTIL_H

/* mkdir -p: path and every missing parent, mode 0750. 0 or -errno
 * (-ENAMETOOLONG past 4095 bytes). */
int fsutil_mkdir_p(const char *path);

#endif
